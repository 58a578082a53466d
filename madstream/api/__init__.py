"""API: the seed's public objects (``asset``, ``DataAsset``, ``DataArtifact``, the collector and
query, ``Storage`` with the seed's helpers, ``get_fs``, the ``mad`` protocol, the Prefect block)
and the configuration that decides which storage is current."""
