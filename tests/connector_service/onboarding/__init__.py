"""Tests of `connector_service/onboarding/`."""
