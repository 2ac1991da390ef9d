"""Local fakes of the providers and OAuth servers the connector service talks to."""
