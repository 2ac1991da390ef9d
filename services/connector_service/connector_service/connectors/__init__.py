"""Connector implementations behind one contract (`base.Connector`).

The core wires them with `ConnectorRegistry.default()`, one
`create_http_client()` per process, and `servicer.ResourceServicer`.
"""
