"""Evaluations: questionnaire, resident identity, rating submission, integrity rules, H5 page."""
