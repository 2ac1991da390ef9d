"""What every part stands on: the egress guard (`egress`), ids, page cursors and proto conversion (`wire`)."""
