"""Tests of `connector_service/auth/`."""
