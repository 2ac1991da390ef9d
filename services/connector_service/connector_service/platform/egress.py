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
cannot pick the private one later. An IPv6 address that carries an IPv4 address
(mapped, translated, IPv4-compatible, NAT64, 6to4, Teredo) reaches that IPv4 address
through a translator or tunnel, so it is judged by the IPv4 address inside it; other IPv6
addresses must be global unicast (`2000::/3`, and global there).

A refusal tells the tenant "destination not allowed" and which field; the host, the
addresses it resolved to and the refused ones go to the server log only, so refusals
cannot be used to learn how internal names resolve.

The check runs where the connection is made, on the addresses actually dialled: the
HTTP client's network backend (`GuardedBackend`) resolves, checks and connects to the
checked address itself (TLS still verifies the host name). httpx's transport takes no
network backend, httpcore's connection pool does (its public `network_backend` argument),
so the guarded client's transport (`GuardedTransport`) is a small httpx transport over
such a pool, as httpx's custom-transport interface describes. PostgreSQL connections
get the checked address as libpq's `hostaddr`. A name that resolves differently between
a check and the connect (DNS rebinding) therefore cannot slip through.

The process policy is set once at start (`configure`); until then nothing is restricted
(in-process tests that bring their own clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import typing
from collections.abc import AsyncIterator, Iterable, Iterator

import httpcore
import httpx
from ucf_common.errors import ErrorCode, UcfError

from connector_service.app import metrics
from connector_service.platform import destinations

SETTING = "UCF_EGRESS_ALLOWED_NETWORKS"
#: What a tenant is told; never the address a name resolved to.
NOT_ALLOWED = "destination not allowed"

log = logging.getLogger("ucf.egress")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(httpcore.ConnectError):
    """A connection the policy does not permit. Subclasses httpcore's `ConnectError`, so the
    HTTP client reports it like any failed connect (`httpx.ConnectError`, with this as its cause).
    Its text is safe to show a tenant: it names no host and no address."""

    def __init__(self) -> None:
        metrics.EGRESS_REFUSALS.inc()
        super().__init__(
            f"{NOT_ALLOWED}: only public internet hosts can be reached (operators can allow networks with {SETTING})"
        )


_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_NAT64_LOCAL_96 = ipaddress.IPv6Network("64:ff9b:1::/96")
#: IPv4-compatible (::a.b.c.d, deprecated) and IPv4-translated (::ffff:0:a.b.c.d, RFC 2765).
_LAST_32_BITS = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("::ffff:0:0:0/96"), _NAT64, _NAT64_LOCAL_96)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...] | None:
    """The IPv4 addresses an IPv6 address reaches through a translator or tunnel (both ends
    for Teredo); None when it embeds none. An address in the local-use NAT64 prefix outside
    its /96 answers `()`: where its IPv4 bits sit depends on a translator's configuration."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.teredo is not None:
        return ip.teredo
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if any(ip in network for network in _LAST_32_BITS):
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in _NAT64_LOCAL:
        return ()
    return None


class EgressPolicy:
    def __init__(self, allowed_networks: Iterable[str] = ()):
        self.allowed: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n.strip(), strict=False) for n in allowed_networks if n.strip()
        )

    @classmethod
    def from_setting(cls, value: str) -> EgressPolicy:
        """From a comma-separated CIDR list; a malformed entry stops the process at start."""
        try:
            return cls(value.split(","))
        except ValueError as err:
            raise ValueError(f"{SETTING}: {err}") from None

    def permits(self, address: str | Address) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
        if any(ip in network for network in self.allowed):
            return True
        if isinstance(ip, ipaddress.IPv4Address):
            return ip.is_global and not ip.is_multicast
        inner = embedded_ipv4(ip)
        if inner is not None:
            return bool(inner) and all(self.permits(v4) for v4 in inner)
        return ip in _GLOBAL_UNICAST_V6 and ip.is_global

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
            log.warning(
                "egress refused: %s resolves to %s; not permitted: %s", host, ", ".join(addresses), ", ".join(refused)
            )
            raise EgressRefused()
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
    host (onboarding, a callback URL), `failed_precondition` for one stored earlier; `field`
    names the form field or setting that chose the host."""
    message = f"{field}: {refused}" if field else str(refused)
    return UcfError(code, message, {"field": field} if field else {})


async def checked_pg_params(params: dict[str, typing.Any], code: ErrorCode) -> dict[str, typing.Any]:
    """psycopg `params` with libpq's `hostaddr` set to the checked address of their `host` (only
    the host's spelling is checked without a policy: `destinations.host`, a 400). A refused host —
    a Unix-socket path is a local connection — answers `refused_error`, an unresolvable one
    `upstream_error`."""
    host = str(params["host"])
    if not host.startswith(("/", "@")):  # a socket path is judged below, as a local connection
        host = destinations.host(host, "host")
        params = {**params, "host": host}
    policy = _policy
    if policy is None:
        return params
    try:
        if host.startswith(("/", "@")):
            log.warning("egress refused: %s is a local socket", host)
            raise EgressRefused()
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

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = err
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[typing.Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        log.warning("egress refused: %s is a local socket", path)
        raise EgressRefused()

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


#: httpcore's errors and the httpx errors the client raises for them, most specific first (as
#: `httpx.AsyncHTTPTransport` maps them), so callers catch the same `httpx` exceptions.
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """Re-raises an httpcore error as its httpx twin, the original as its cause (`refusal` finds it)."""
    try:
        yield
    except Exception as exc:
        for core, mapped in _HTTPX_ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class GuardedTransport(httpx.AsyncBaseTransport):
    """The HTTP client's transport under a policy: httpcore's connection pool dialling through
    `GuardedBackend`, set up as `httpx.AsyncHTTPTransport` sets up its own (the `limits`' pool
    sizes and keep-alive, HTTP/1.1, TLS verified with httpx's default context, no retries), with
    no proxy and no settings read from the environment. Timeouts are the client's, per request."""

    def __init__(self, policy: EgressPolicy, limits: httpx.Limits) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = httpcore.URL(
            scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port, target=request.url.raw_path
        )
        core = httpcore.Request(
            method=request.method,
            url=url,
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            answer = await self._pool.handle_async_request(core)
        assert isinstance(answer.stream, typing.AsyncIterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_ResponseStream(answer.stream),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
