"""Commit: temporary names, the transaction that publishes or discards a run's files, and the
catalog of run records and manifests that makes a cache check one small read."""
