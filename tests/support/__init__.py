"""Test support: real helper processes (an S3-compatible server) shared by test packages."""
