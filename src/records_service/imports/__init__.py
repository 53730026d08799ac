"""Bulk import of legacy folders and zip archives into records, faithfully and resumably.

A mapping file (:mod:`.mapping`) says how each file's path and metadata become a
record's contract, type, date, title, tags and classification; a source
(:mod:`.sources`) lists a directory tree or a zip read in place; a batch
(:mod:`.service`) captures each file through the same capture path as the API, keeps
its provenance, and records a file whose bytes are already held as a sighting of that
record. The command is ``records-service import``; see docs/import.md.
"""
