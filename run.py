"""WSGI entry point and `flask --app run` target; nothing else starts here."""

from app import create_app

app = create_app()
