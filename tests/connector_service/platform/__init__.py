"""Tests of `connector_service/platform/`."""
