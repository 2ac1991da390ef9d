"""Lifecycle events: the tenant's event endpoints and the emitter that queues signed deliveries."""
