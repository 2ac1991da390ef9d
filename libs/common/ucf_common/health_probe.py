"""`python -m ucf_common.health_probe HOST:PORT` — exit 0 when a gRPC server reports SERVING.

Container healthchecks use it (each image installs ucf_common and
grpcio-health-checking). With `--ca`, the probe speaks TLS, and with `--cert`/
`--key` it presents a client certificate, so it also works against a vault
that requires mTLS. Exit codes: 0 SERVING, 1 anything else (not serving,
unreachable, refused), with the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc


def check(
    address: str,
    service: str = "",
    timeout: float = 3.0,
    credentials: grpc.ChannelCredentials | None = None,
    server_name: str | None = None,
) -> str:
    """The status name the server reports for `service` ("" = the whole process)."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    if credentials is None:
        channel = grpc.insecure_channel(address, options=options)
    else:
        channel = grpc.secure_channel(address, credentials, options=options)
    with channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ucf_common.health_probe", description=__doc__.splitlines()[0])
    parser.add_argument("address", help="HOST:PORT")
    parser.add_argument("--service", default="", help="service name to ask about (default: the whole process)")
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--ca", type=Path, help="CA bundle: speak TLS and trust this CA")
    parser.add_argument("--cert", type=Path, help="client certificate (mTLS)")
    parser.add_argument("--key", type=Path, help="client private key (mTLS)")
    parser.add_argument("--server-name", help="name expected in the server certificate")
    args = parser.parse_args(argv)
    credentials = None
    if args.ca:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=args.ca.read_bytes(),
            private_key=args.key.read_bytes() if args.key else None,
            certificate_chain=args.cert.read_bytes() if args.cert else None,
        )
    try:
        status = check(args.address, args.service, args.timeout, credentials, args.server_name)
    except grpc.RpcError as error:
        print(f"{args.address}: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    if status != "SERVING":
        print(f"{args.address}: {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
