"""Query: DuckDB over committed files: reader options, scan SQL, the ``mad`` filesystems that
let DuckDB read remote storage, and :class:`QueryResult`."""
