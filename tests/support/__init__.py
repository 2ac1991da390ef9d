"""Helpers for tests: free ports, an embedded MongoDB-compatible server, subprocesses."""
