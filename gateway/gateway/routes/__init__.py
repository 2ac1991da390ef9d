"""One router per resource family; `api_routers` are mounted under API_PREFIX.

Connections come first: routes are matched in order, and the token read
(`GET /connections/{id}/token`) is the hot path.
"""

from gateway.routes import connections, connectors, jobs, oauth, proxy, resources, schedules, webhooks

api_routers = (
    connections.router,
    connectors.router,
    resources.router,
    jobs.router,
    schedules.router,
    webhooks.router,
    oauth.router,
    proxy.router,
)
