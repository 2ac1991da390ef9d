"""Connect sessions and tenant settings: the hosted Connect page's side of the service."""
