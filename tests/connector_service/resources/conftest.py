"""Fixtures shared with tests.connector_service.connectors."""

from tests.connector_service.connectors.conftest import http, make_ctx, recorder  # noqa: F401
