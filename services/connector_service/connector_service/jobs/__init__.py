"""Background jobs (sync, import, probe), the sync engine and the records feed.

`store.JobStore` persists jobs and their leases, `worker.JobWorkers` claims
and runs them inside the connector service, `sync.SyncEngine` reads a
connection's streams through its connector into `records.RecordStore`, and
`feed.RecordFeed` serves the committed changes in commit order.
`servicer.JobServicer` is the gRPC face of all of it.
"""
