"""Tests of `connector_service/app/`."""
