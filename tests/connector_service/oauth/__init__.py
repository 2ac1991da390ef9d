"""Tests of connector_service.oauth."""
