"""WSGI entry point and `flask --app run` target; nothing else starts here."""

import sandboxes
from app import create_app

app = create_app()
# The development sandboxes' commands: the entry point, not the product, knows them.
sandboxes.init_app(app)
