"""What can be connected: the provider catalog (`providers`, `providers.yaml`), per-tenant connector settings
(`settings`) and ConnectorService (`servicer`).
"""
