"""`python -m gateway`: serve the REST gateway with uvicorn on uvloop + httptools.

uvicorn handles SIGTERM/SIGINT: it stops accepting, lets in-flight requests
finish within GATEWAY_SHUTDOWN_GRACE_SECONDS, then runs the lifespan shutdown
that closes the channel. The access line comes from `RequestContextMiddleware`
(it carries the request id and leaves out query strings), so uvicorn's own is off.
"""

from __future__ import annotations

import uvicorn
from ucf_common.logging import configure_logging
from ucf_common.tracing import GRPC_CLIENT, configure_tracing

from gateway.app import create_app
from gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_json)
    configure_tracing("ucf-gateway", (GRPC_CLIENT,))
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        # uvicorn annotates an int but waits with asyncio.wait_for, which takes fractions too.
        timeout_graceful_shutdown=settings.gateway_shutdown_grace_seconds,  # type: ignore[arg-type]
        # Only the h11 protocol has a header limit of its own; it is set above the app's
        # (`RequestEdge`, 431 in the envelope) so it is a backstop, not what callers see.
        h11_max_incomplete_event_size=2 * settings.gateway_max_header_bytes + 8192,
    )


if __name__ == "__main__":
    main()
