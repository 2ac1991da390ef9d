"""ResourceService (`servicer`) and the `ConnectorContext` provider it reads through (`contexts`)."""
