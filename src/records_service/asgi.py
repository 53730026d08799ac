"""The one module-level app, for ``uvicorn records_service.asgi:app``.

Settings come from the environment.
"""

from records_service.app import create_app

app = create_app()
