"""Records and their immutable versions: capture, reading, metadata edits."""
