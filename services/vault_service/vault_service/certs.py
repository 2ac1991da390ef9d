"""A development PKI for mutual TLS between the connector service and the vault.

`issue_dev_pki(out)` writes a self-signed CA and three leaf certificates signed
by it (ECDSA P-256, 825 days):

| file | identity (CN, first DNS SAN) | used by |
|---|---|---|
| `ca.crt` / `ca.key` | UCF development CA | both sides trust `ca.crt`; keep `ca.key` offline |
| `vault.crt` / `vault.key` | `vault` (+ `localhost`, 127.0.0.1) | the vault's server and client certificate |
| `connector-service.crt` / `.key` | `connector-service` | the connector service (`VAULT_ALLOWED_CLIENTS`) |
| `vault-admin.crt` / `.key` | `vault-admin` | the admin CLI (`VAULT_ADMIN_CLIENTS`) |

The vault's certificate is also a client certificate so the container
healthcheck can present it. These names match docker-compose.yml. Private
keys are written mode 0600.
For production, issue certificates from your own CA with the same identities.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=825)
SERVER_NAME = "vault"
CONNECTOR_CLIENT = "connector-service"
ADMIN_CLIENT = "vault-admin"


@dataclass(frozen=True)
class Issued:
    cert_pem: bytes
    key_pem: bytes


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(common_name: str = "UCF development CA") -> tuple[Issued, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)), key, cert


def issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    *,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    server: bool = False,
    client: bool = True,
) -> Issued:
    """A leaf certificate for `common_name` signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in (common_name, *dns)]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _write(path: Path, data: bytes, private: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def issue_dev_pki(out: Path, *, force: bool = False, server_dns: tuple[str, ...] = ("localhost",)) -> list[Path]:
    """Writes the CA and the three leaf certificates into `out`; refuses to overwrite unless `force`."""
    out.mkdir(parents=True, exist_ok=True)
    names = ["ca", SERVER_NAME, CONNECTOR_CLIENT, ADMIN_CLIENT]
    existing = [out / f"{n}.{ext}" for n in names for ext in ("crt", "key") if (out / f"{n}.{ext}").exists()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]} exists; pass --force to replace the whole set")
    ca, ca_key, ca_cert = make_ca()
    issued = {
        "ca": ca,
        SERVER_NAME: issue(ca_key, ca_cert, SERVER_NAME, dns=server_dns, ips=("127.0.0.1",), server=True),
        CONNECTOR_CLIENT: issue(ca_key, ca_cert, CONNECTOR_CLIENT),
        ADMIN_CLIENT: issue(ca_key, ca_cert, ADMIN_CLIENT),
    }
    written = []
    for name, pair in issued.items():
        _write(out / f"{name}.crt", pair.cert_pem, private=False)
        _write(out / f"{name}.key", pair.key_pem, private=True)
        written += [out / f"{name}.crt", out / f"{name}.key"]
    return written
