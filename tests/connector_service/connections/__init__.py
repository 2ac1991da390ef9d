"""Tests of `connector_service/connections/`."""
