"""Clues (问题线索): the transition table, one service function per action, queries, routes."""
