"""How the service's processes run: what they hold, how they serve, their background work.

The services container, the shared request dependencies of both faces, the background
worker, the retention timer, the ``serve`` launcher and its server processes. Above the
domain packages, below the faces (``api``, ``web``, ``cli``): the faces take their
services from :class:`~records_service.runtime.services.Services`, and nothing in here
imports a face (``serve`` is handed the app factory it runs).
"""
