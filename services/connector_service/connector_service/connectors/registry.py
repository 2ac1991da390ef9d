"""Connector id → implementation, one instance of each per process."""

from __future__ import annotations

from collections.abc import Iterable

from ucf_common.errors import not_found

from connector_service.connectors.base import Connector


class ConnectorRegistry:
    """Holds the connector classes and the single instance made from each on first use."""

    def __init__(self, classes: Iterable[type[Connector]]):
        self._classes = {cls.id: cls for cls in classes}
        self._instances: dict[str, Connector] = {}

    @classmethod
    def default(cls) -> ConnectorRegistry:
        """Every built-in connector: jira, confluence, github, salesforce, postgres."""
        from connector_service.connectors.confluence import ConfluenceConnector
        from connector_service.connectors.github import GitHubConnector
        from connector_service.connectors.jira import JiraConnector
        from connector_service.connectors.postgres import PostgresConnector
        from connector_service.connectors.salesforce import SalesforceConnector

        return cls([JiraConnector, ConfluenceConnector, GitHubConnector, SalesforceConnector, PostgresConnector])

    def ids(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, connector_id: str) -> bool:
        return connector_id in self._classes

    def get(self, connector_id: str) -> Connector:
        """The connector for `connector_id`; not_found ("connector X not found", as the catalog
        says it) for an id with no implementation."""
        if connector_id not in self._instances:
            cls = self._classes.get(connector_id)
            if cls is None:
                raise not_found("connector", connector_id)
            self._instances[connector_id] = cls()
        return self._instances[connector_id]

    def capabilities(self, connector_id: str) -> list[str]:
        cls = self._classes.get(connector_id)
        return sorted(c.value for c in cls.capabilities) if cls else []

    async def aclose(self) -> None:
        for connector in self._instances.values():
            await connector.aclose()
        self._instances.clear()
