"""Tests of `connector_service/catalog/`."""
