"""Tests of `connector_service/vault/`."""
