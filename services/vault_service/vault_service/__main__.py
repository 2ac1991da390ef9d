"""`python -m vault_service COMMAND` — run and administer the vault.

    serve                 run the vault (settings from the environment)
    keygen [--id ID]      print a new `id:fernetkey` entry for VAULT_KEYS
    status                key ring: ids, primary, retired, secrets per key   (admin RPC)
    rewrap                re-encrypt everything under the primary key         (admin RPC)
    retire KEY_ID         retire a key no secret uses any more                (admin RPC)
    verify-audit          walk the audit hash chain, report the first break   (reads MongoDB)
      [--expect-head COUNT:HASH]  and fail when the chain lacks a head taken from shipped logs
    certs --out DIR       development CA + vault / connector / admin certificates
    healthcheck           exit 0 when the local vault reports SERVING (container probe)

Admin RPCs connect to VAULT_HOST:VAULT_PORT with VAULT_CLIENT_TOKEN(_FILE), or
with --ca/--cert/--key (an identity in VAULT_ADMIN_CLIENTS) when mTLS is on.
Exit codes: 0 success, 1 the operation failed or was refused, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.fernet import Fernet
from pydantic import ValidationError

from vault_service.admin import AdminClient, Connection, print_rewrap
from vault_service.audit_head import AuditHead
from vault_service.keyring import KeyRing, KeyRingError
from vault_service.settings import Settings


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in err.errors())
        raise SystemExit(f"vault: invalid configuration: {problems}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    from vault_service.server import serve

    settings = _settings()
    try:
        keyring = KeyRing.from_text(settings.key_ring_text())
    except (KeyRingError, OSError) as err:
        print(f"vault: refusing to start: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings, keyring))
    except (KeyRingError, ValueError) as err:
        print(f"vault: refusing to start: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    key_id = args.id or "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    entry = f"{key_id}:{Fernet.generate_key().decode()}"
    try:
        KeyRing.from_text(entry)
    except KeyRingError as err:
        print(f"vault: {err}", file=sys.stderr)
        return 2
    print(entry)
    return 0


def _admin(args: argparse.Namespace) -> AdminClient:
    return AdminClient(
        Connection.from_settings(
            _settings(),
            address=args.address,
            ca_file=args.ca,
            cert_file=args.cert,
            key_file=args.key,
            server_name=args.server_name,
        )
    )


def _refused(err: grpc.RpcError) -> int:
    print(f"vault: {err.code().name}: {err.details()}", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    client = _admin(args)
    try:
        status = client.status()
    except grpc.RpcError as err:
        return _refused(err)
    finally:
        client.close()
    print(f"{'KEY':<24} {'STATE':<10} SECRETS")
    for key in status.keys:
        state = "primary" if key.primary else "retired" if key.retired else "active" if key.loaded else "NOT LOADED"
        print(f"{key.key_id:<24} {state:<10} {key.secret_count}")
    return 0


def cmd_rewrap(args: argparse.Namespace) -> int:
    client = _admin(args)
    try:
        last = print_rewrap(client.rewrap(args.batch_size, args.max_batches))
    except grpc.RpcError as err:
        return _refused(err)
    finally:
        client.close()
    if last is None:
        return 1
    print(
        f"rewrapped {last.rewrapped} secrets under {last.primary_key_id}; {last.remaining} remaining"
        + (f"; {last.failed} failed their integrity check (see the audit log)" if last.failed else "")
    )
    return 0 if last.failed == 0 else 1


def cmd_retire(args: argparse.Namespace) -> int:
    client = _admin(args)
    try:
        client.retire(args.key_id)
    except grpc.RpcError as err:
        return _refused(err)
    finally:
        client.close()
    print(f"key {args.key_id} retired; it can now be removed from VAULT_KEYS")
    return 0


def cmd_verify_audit(args: argparse.Namespace) -> int:
    from pymongo import AsyncMongoClient

    from vault_service.audit import verify_chain
    from vault_service.audit_head import head_mismatch

    settings = _settings()
    expected: AuditHead | None = args.expect_head

    async def run() -> int:
        client: AsyncMongoClient = AsyncMongoClient(
            settings.vault_mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000
        )
        try:
            collection = client[settings.vault_mongodb_db]["vault_audit"]
            report = await verify_chain(collection)
            mismatch = await head_mismatch(collection, report, expected) if expected and report.intact else None
        finally:
            await client.close()
        if not report.intact:
            print(
                f"audit chain BROKEN at record {report.first_break}: {report.reason} "
                f"({report.records} records verified before it)"
            )
            return 1
        if mismatch is not None:
            print(f"audit chain does NOT contain the expected head {expected}: {mismatch}")
            return 1
        print(f"audit chain intact: {report.records} records, head {report.head_hash}")
        if expected is not None:
            print(
                f"expected head {expected.count}:{expected.hash[:12]}... found; "
                f"{report.records - expected.count} records after it"
            )
        return 0

    return asyncio.run(run())


def cmd_certs(args: argparse.Namespace) -> int:
    from vault_service.certs import issue_dev_pki

    try:
        written = issue_dev_pki(args.out, force=args.force)
    except FileExistsError as err:
        print(f"vault: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def cmd_healthcheck(args: argparse.Namespace) -> int:
    from ucf_common import health_probe

    settings = _settings()
    argv = [f"127.0.0.1:{settings.vault_port}", "--timeout", str(args.timeout)]
    if settings.tls_enabled:
        # Under mTLS the probe presents the vault's own certificate (issued for client use too by `certs`).
        assert settings.vault_tls_cert_file and settings.vault_tls_key_file and settings.vault_tls_client_ca_file
        cert = x509.load_pem_x509_certificate(settings.vault_tls_cert_file.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        argv += [
            "--ca",
            str(settings.vault_tls_client_ca_file),
            "--cert",
            str(settings.vault_tls_cert_file),
            "--key",
            str(settings.vault_tls_key_file),
            "--server-name",
            names.get_values_for_type(x509.DNSName)[0],
        ]
    return health_probe.main(argv)


def _head_argument(text: str) -> AuditHead:
    try:
        return AuditHead.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m vault_service",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the vault").set_defaults(run=cmd_serve)
    keygen = commands.add_parser("keygen", help="print a new id:key entry")
    keygen.add_argument("--id", help="key id (default: k + UTC timestamp)")
    keygen.set_defaults(run=cmd_keygen)

    def admin_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--address", help="HOST:PORT of the vault (default VAULT_HOST:VAULT_PORT)")
        sub.add_argument("--ca", type=Path, help="CA that signed the vault's certificate (mTLS)")
        sub.add_argument("--cert", type=Path, help="admin client certificate (mTLS)")
        sub.add_argument("--key", type=Path, help="admin client private key (mTLS)")
        sub.add_argument("--server-name", help="name in the vault's certificate, e.g. vault")
        return sub

    admin_command("status", "key-ring status").set_defaults(run=cmd_status)
    rewrap = admin_command("rewrap", "re-encrypt every secret under the primary key")
    rewrap.add_argument("--batch-size", type=int, default=0, help="secrets per batch (default: server's)")
    rewrap.add_argument("--max-batches", type=int, default=0, help="stop after this many batches (0 = all)")
    rewrap.set_defaults(run=cmd_rewrap)
    retire = admin_command("retire", "retire a key no secret uses")
    retire.add_argument("key_id")
    retire.set_defaults(run=cmd_retire)
    verify = commands.add_parser("verify-audit", help="verify the audit hash chain")
    verify.add_argument(
        "--expect-head",
        type=_head_argument,
        metavar="COUNT:HASH",
        help="a head from the vault's `vault.audit_head` log lines: fail when the chain is shorter "
        "or record COUNT has another hash",
    )
    verify.set_defaults(run=cmd_verify_audit)
    certs = commands.add_parser("certs", help="write a development CA and certificates")
    certs.add_argument("--out", type=Path, required=True)
    certs.add_argument("--force", action="store_true", help="replace an existing set")
    certs.set_defaults(run=cmd_certs)
    health = commands.add_parser("healthcheck", help="exit 0 when the local vault is SERVING")
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(run=cmd_healthcheck)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
