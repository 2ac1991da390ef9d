"""Who is calling: API keys and their scopes (`api_keys`), the gRPC auth interceptor (`interceptor`)."""
