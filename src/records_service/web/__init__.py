"""The server-rendered web interface: login, upload, records, contracts and admin pages."""

from records_service.web.mount import is_web_path, mount_web

__all__ = ["is_web_path", "mount_web"]
