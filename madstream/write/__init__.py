"""Write: record batches → fragment and result files (parquet, JSON lines, CSV) as they pass,
with lossless schema evolution, the encoders, and DuckDB's names for Arrow types.

A sibling of ``stream``: neither imports the other; the run layer joins them.
"""
