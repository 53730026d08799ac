"""Records domain tests: capture pipeline, extraction hand-off, production backends."""
