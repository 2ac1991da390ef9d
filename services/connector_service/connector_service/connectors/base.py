"""The connector contract: what every provider implementation offers.

A connector is a stateless, process-wide object (the registry makes one per
class); everything about the connection it acts for arrives in the
`ConnectorContext` passed to each call. Methods a connector does not override
raise `failed_precondition` "<connector> does not support <capability>",
which the API shows as 412.

Conventions for every method:
- Lists answer a `Page`: `items` may be empty or shorter than `limit` without
  meaning the end; `next` None is the end; otherwise pass `next` back as
  `cursor` to continue. `cursor` None (or "") asks for the first page.
  `limit` is already validated (1–200); connectors may return fewer.
- `updated_since` None means no lower bound; otherwise only entries changed at
  or after that instant are listed.
- A single entry that does not exist raises `not_found`; None is never
  returned for "missing".
- Provider failures surface as `UcfError` through `Upstream` (401 marks the
  connection invalid via `ctx.on_unauthorized`).
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import enum
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.models import (
    Body,
    Comment,
    Container,
    Item,
    ItemDraft,
)
from connector_service.connectors.paging import Page


class Capability(enum.StrEnum):
    """Capability names as the catalog (`Connector.capabilities`) publishes them."""

    VALIDATE = "validate"
    PROBE = "probe"
    CONTAINERS = "containers"
    ITEMS = "items"
    COMMENTS = "comments"
    CREATE_ITEM = "create_item"
    CREATE_COMMENT = "create_comment"
    WEBHOOKS = "webhooks"


@dataclass(frozen=True)
class ProbeResult:
    """What a probe found: instance facts (site, version, user), granted scopes, usable capabilities."""

    instance: Mapping[str, Any]
    capabilities: tuple[str, ...]
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebhookRegistration:
    """An upstream webhook: the provider's id for it, the events it will deliver, and when it
    expires unless refreshed (None: it does not expire)."""

    upstream_id: str
    events: tuple[str, ...] = ()
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """One delivery, normalized. `delivery_id` is the provider's id (for de-duplication), "" if it sends none."""

    delivery_id: str
    kind: str
    container_id: str = ""
    item_id: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    #: Upstream webhook ids the provider says this delivery is for (Jira `matchedWebhookIds`); when
    #: not empty, the receiving webhook's upstream id must be among them.
    upstream_ids: tuple[str, ...] = ()
    #: The site the delivery comes from (scheme://host), for providers whose webhook ids are per site.
    site: str = ""


class WebhookSecret(enum.StrEnum):
    """Which secret `verify_webhook` receives for a delivery."""

    #: the secret this service generated and handed to the provider at registration (GitHub)
    GENERATED = "generated"
    #: the tenant's OAuth client secret for the connector (vault OAUTH_CLIENT_SECRET; Jira OAuth 2.0 apps)
    OAUTH_CLIENT = "oauth_client"


def unsupported(connector: str, capability: Capability | str) -> UcfError:
    name = capability.value if isinstance(capability, Capability) else capability
    return UcfError(ErrorCode.FAILED_PRECONDITION, f"{connector} does not support {name}", {"capability": name})


class Connector(abc.ABC):
    """Base of every connector. Subclasses set `id`, `display_name`, `capabilities`."""

    id: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    webhook_secret: ClassVar[WebhookSecret] = WebhookSecret.GENERATED
    #: The provider allows one delivery URL per OAuth app (Jira dynamic webhooks): every webhook of a
    #: (tenant, connector) is registered with that app's one receiver URL and deliveries are routed by
    #: `WebhookEvent.upstream_ids` and `WebhookEvent.site`.
    webhook_url_per_app: ClassVar[bool] = False

    def webhook_site(self, ctx: ConnectorContext) -> str:
        """The site (scheme://host) a connection's webhooks are registered on; "" when not per site."""
        return ""

    def require(self, capability: Capability) -> None:
        """Raise the 412 error unless this connector offers `capability`."""
        if capability not in self.capabilities:
            raise unsupported(self.id, capability)

    @abc.abstractmethod
    async def validate(self, ctx: ConnectorContext) -> None:
        """Make one cheap authenticated call; return when the credential works, raise otherwise."""

    @abc.abstractmethod
    async def probe(self, ctx: ConnectorContext) -> ProbeResult:
        """Real calls that describe the instance the credential reaches."""

    async def list_containers(
        self, ctx: ConnectorContext, *, cursor: str | None, limit: int, parent_id: str | None = None
    ) -> Page[Container]:
        """Projects, spaces, repositories, object types or tables the credential can see."""
        raise unsupported(self.id, Capability.CONTAINERS)

    async def list_items(
        self,
        ctx: ConnectorContext,
        container_id: str,
        *,
        updated_since: dt.datetime | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Item]:
        """Items of one container; a container that does not exist raises not_found."""
        raise unsupported(self.id, Capability.ITEMS)

    async def stream_items(
        self,
        ctx: ConnectorContext,
        container_id: str,
        *,
        updated_since: dt.datetime | None,
        cursor: str | None,
        batch: int,
    ) -> AsyncGenerator[Page[Item], None]:
        """Every item of one container from `cursor` on, as pages of at most `batch` items; each
        page's `next` resumes after it (a `cursor` for `list_items` too), the last page's is None.
        This default pages through `list_items`; database connectors read one server-side cursor."""
        while True:
            page = await self.list_items(
                ctx, container_id, updated_since=updated_since, cursor=cursor, limit=min(batch, 200)
            )
            yield page
            if page.next is None:
                return
            cursor = page.next

    async def stream_items_json(
        self,
        ctx: ConnectorContext,
        container_id: str,
        *,
        updated_since: dt.datetime | None,
        cursor: str | None,
        batch: int,
        encode: Callable[[Item], bytes],
    ) -> AsyncGenerator[Page[bytes], None]:
        """`stream_items` with each item as its JSON: `encode(item)` here; a database connector
        writes the same bytes straight from its rows, without making `Item`s."""
        pages = self.stream_items(ctx, container_id, updated_since=updated_since, cursor=cursor, batch=batch)
        async with contextlib.aclosing(pages):
            async for page in pages:
                yield Page([encode(i) for i in page.items], page.next)

    async def get_item(self, ctx: ConnectorContext, container_id: str, item_id: str) -> Item:
        raise unsupported(self.id, Capability.ITEMS)

    async def list_comments(
        self, ctx: ConnectorContext, container_id: str, item_id: str, *, cursor: str | None, limit: int
    ) -> Page[Comment]:
        """Comments of one item, oldest first."""
        raise unsupported(self.id, Capability.COMMENTS)

    async def create_item(self, ctx: ConnectorContext, container_id: str, draft: ItemDraft) -> Item:
        """Create upstream and answer the item as the provider stored it."""
        raise unsupported(self.id, Capability.CREATE_ITEM)

    async def create_comment(self, ctx: ConnectorContext, container_id: str, item_id: str, body: Body) -> Comment:
        raise unsupported(self.id, Capability.CREATE_COMMENT)

    async def register_webhook(
        self, ctx: ConnectorContext, container_id: str, callback_url: str, events: tuple[str, ...], secret: str
    ) -> WebhookRegistration:
        """Ask the provider to deliver `events` to `callback_url`, signing with `secret` where it can."""
        raise unsupported(self.id, Capability.WEBHOOKS)

    async def unregister_webhook(self, ctx: ConnectorContext, container_id: str, upstream_id: str) -> None:
        """Remove an upstream webhook; one that is already gone is not an error."""
        raise unsupported(self.id, Capability.WEBHOOKS)

    def webhooks_unavailable(self, auth_mode: str) -> str | None:
        """Why a connection with `auth_mode` cannot register webhooks here (shown as 412), None if it can."""
        return None

    async def refresh_webhook(self, ctx: ConnectorContext, upstream_id: str) -> dt.datetime | None:
        """Extend an expiring upstream webhook; the new expiry (None: it does not expire)."""
        return None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        """Whether a delivery's signature matches `secret` (headers keyed in lower case)."""
        raise unsupported(self.id, Capability.WEBHOOKS)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """The normalized event of a verified delivery."""
        raise unsupported(self.id, Capability.WEBHOOKS)

    async def aclose(self) -> None:  # noqa: B027 - optional hook, deliberately a no-op by default
        """Release process-wide resources (database connections); HTTP connectors hold none."""
