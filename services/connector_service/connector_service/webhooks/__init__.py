"""Upstream webhooks: registration, the public receiver, and forwarding to tenants.

`store.WebhookStore` keeps registrations, deliveries (one per provider
delivery id) and dead letters; `receiver.Receiver` verifies and de-duplicates
deliveries and triggers syncs; `forwarder.Forwarder` relays events to the
tenant's callback signed per Standard Webhooks (`signing.py`);
`servicer.WebhookServicer` is the gRPC face.
"""
