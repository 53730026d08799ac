"""Tests for the blob stores: one contract suite for every backend, plus backend-specific tests."""
