"""The JSON HTTP API under ``/api``: routes by resource, typed dependencies, problem errors."""
