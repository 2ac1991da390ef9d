"""The hosted Connect page (`/connect`), its embed script, and the REST routes of connect
sessions, tenant settings and event endpoints."""
