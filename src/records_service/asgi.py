"""The one module-level app, for ``uvicorn records_service.asgi:app``; settings come from the environment."""

from records_service.app import create_app

app = create_app()
