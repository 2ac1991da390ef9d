"""Local fakes of the third-party services the connector service talks to."""
