"""How the service's processes run: what they hold, how they serve, their background work."""
