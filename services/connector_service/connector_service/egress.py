"""Where this service may open connections (server-side request forgery guard).

Tenants choose some of the hosts the connector service connects to: an Atlassian site
(API-token onboarding), a webhook forwarding `callbackUrl`, a PostgreSQL host. Without a
guard, a tenant could point one at the service's own network — a cloud metadata
endpoint, the vault's MongoDB, an admin port on loopback — and have the service connect
there with its network position.

`EgressPolicy` permits globally routable unicast addresses only, plus the networks an
operator lists in `UCF_EGRESS_ALLOWED_NETWORKS` (e.g. `10.20.0.0/16` for a self-hosted
Jira, `127.0.0.0/8` for local development). A host is refused when *any* address it
resolves to is not permitted, so a name that answers both a public and a private address
cannot pick the private one later.

The check runs where the connection is made, on the addresses actually dialled: the
HTTP client's network backend (`GuardedBackend`) resolves, checks and connects to the
checked address itself (TLS still verifies the host name), and PostgreSQL connections
get the checked address as libpq's `hostaddr`. A name that resolves differently between
a check and the connect (DNS rebinding) therefore cannot slip through.

The process policy is set once at start (`configure`); until then nothing is restricted
(in-process tests that bring their own clients).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Iterable

import httpcore
from ucf_common.errors import ErrorCode, UcfError

SETTING = "UCF_EGRESS_ALLOWED_NETWORKS"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(httpcore.ConnectError):
    """A connection the policy does not permit. Subclasses httpcore's `ConnectError`, so the
    HTTP client reports it like any failed connect (`httpx.ConnectError`, with this as its cause)."""

    def __init__(self, host: str, why: str):
        super().__init__(f"connections to {host} are not permitted: {why} (see {SETTING})")


class EgressPolicy:
    def __init__(self, allowed_networks: Iterable[str] = ()):
        self.allowed: tuple[Network, ...] = tuple(ipaddress.ip_network(n.strip(), strict=False)
                                                  for n in allowed_networks if n.strip())

    @classmethod
    def from_setting(cls, value: str) -> EgressPolicy:
        """From a comma-separated CIDR list; a malformed entry stops the process at start."""
        try:
            return cls(value.split(","))
        except ValueError as err:
            raise ValueError(f"{SETTING}: {err}") from None

    def permits(self, address: str | Address) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allowed):
            return True
        return ip.is_global and not ip.is_multicast

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of `host`, every one of them permitted; `EgressRefused` otherwise."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as err:
                raise httpcore.ConnectError(f"could not resolve {host}: {err.strerror or err}") from None
            addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        refused = [address for address in addresses if not self.permits(address)]
        if refused:
            raise EgressRefused(host, f"it resolves to {', '.join(refused)}, a private, loopback, link-local "
                                      "or reserved address")
        if not addresses:
            raise httpcore.ConnectError(f"could not resolve {host}")
        return addresses


_policy: EgressPolicy | None = None


def configure(policy: EgressPolicy | None) -> None:
    """Sets the process policy (at start); None lifts every restriction."""
    global _policy
    _policy = policy


def current() -> EgressPolicy | None:
    return _policy


def refusal(exc: BaseException | None) -> EgressRefused | None:
    """The `EgressRefused` behind an exception (the HTTP client wraps it), if any."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, EgressRefused):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def refused_error(refused: EgressRefused, field: str = "", code: ErrorCode = ErrorCode.INVALID_REQUEST) -> UcfError:
    """The answer to a refused connection: `invalid_request` while a tenant is choosing the
    host (onboarding, a callback URL), `failed_precondition` for one stored earlier."""
    return UcfError(code, str(refused), {"field": field} if field else {})


async def checked_pg_params(params: dict[str, typing.Any], code: ErrorCode) -> dict[str, typing.Any]:
    """psycopg `params` with libpq's `hostaddr` set to the checked address of their `host` (no
    change without a policy). A refused host — a Unix-socket path is a local connection — answers
    `refused_error`, an unresolvable one `upstream_error`."""
    policy = _policy
    if policy is None:
        return params
    host = str(params["host"])
    try:
        if host.startswith(("/", "@")):
            raise EgressRefused(host, "it is a local socket")
        addresses = await policy.resolve(host, int(params["port"]))
    except EgressRefused as refused:
        raise refused_error(refused, "host", code) from None
    except httpcore.ConnectError as err:
        raise UcfError(ErrorCode.UPSTREAM_ERROR, f"could not reach postgres: {err}", {"provider": "postgres"}) from None
    return {**params, "hostaddr": addresses[0]}


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, dialling only addresses the policy permits."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend | None = None):
        self.policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = err
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise EgressRefused(path, "it is a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
