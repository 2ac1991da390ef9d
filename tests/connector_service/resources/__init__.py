"""Tests of `connector_service/resources/`."""
