"""One router per resource family; `api_routers` are mounted under API_PREFIX."""

from gateway.routes import connections, connectors, jobs, oauth, resources, webhooks

api_routers = (
    connectors.router,
    resources.router,
    connections.router,
    jobs.router,
    webhooks.router,
    oauth.router,
)
