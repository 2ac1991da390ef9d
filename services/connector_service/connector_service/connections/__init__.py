"""Connections and what hangs off them: ConnectionService (`servicer`), the store (`store`), credentials and
their cache, sync states and the audit log.
"""
