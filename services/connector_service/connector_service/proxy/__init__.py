"""The authenticated proxy: a request to a connection's provider API with its credential applied."""
