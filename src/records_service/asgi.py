"""The one module-level app, for ``uvicorn records_service.asgi:app``.

Settings come from the environment. Background work (text extraction, indexing,
audit checkpoints, the retention timer) does not run in this app by default: run
``records-service worker`` beside it, or set ``RECORDS_WORKERS__MODE=thread`` to run
it in a thread of a single server process. ``records-service serve`` does all of this
itself and is the usual way to run the service.
"""

from records_service.app import create_app

app = create_app()
