"""HTTP API tests through the real app."""
