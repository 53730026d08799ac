"""records-service: capture records once, keep them unaltered, find them, prove every action."""

__version__ = "0.1.0"
