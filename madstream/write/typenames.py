"""DuckDB's names for Arrow types, worked out without starting DuckDB.

Every run records its column types (DuckDB's JSON/CSV readers get them back on read). Asking
DuckDB meant opening a database at the end of each run: ~25 MiB of RSS and tens of ms, the peak
of a process that only materializes. The common types are named here exactly as DuckDB names
them; for anything else (maps, durations, time zones, extension types...) :func:`type_names`
returns ``None`` and the caller asks DuckDB. ``tests/test_typenames.py`` checks every rule, and
every keyword, against DuckDB itself.
"""

from __future__ import annotations

import re

import pyarrow as pa

from ..query.options import sql_identifier

__all__ = ["duckdb_type", "duckdb_types", "type_names"]

_SIMPLE: dict[pa.DataType, str] = {
    pa.null(): '"NULL"',
    pa.bool_(): "BOOLEAN",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.uint8(): "UTINYINT",
    pa.uint16(): "USMALLINT",
    pa.uint32(): "UINTEGER",
    pa.uint64(): "UBIGINT",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.large_string(): "VARCHAR",
    pa.binary(): "BLOB",
    pa.large_binary(): "BLOB",
    pa.date32(): "DATE",
    pa.time64("us"): "TIME",
    pa.timestamp("s"): "TIMESTAMP_S",
    pa.timestamp("ms"): "TIMESTAMP_MS",
    pa.timestamp("us"): "TIMESTAMP",
    pa.timestamp("ns"): "TIMESTAMP_NS",
}

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: ``SELECT keyword_name FROM duckdb_keywords()``: DuckDB quotes a struct field named like any of them.
_KEYWORDS = frozenset(
    """
    abort absolute access action add admin after aggregate all also alter always analyse analyze
    and anti any approx array as asc asof assertion assignment asymmetric at attach attribute
    authorization backward before begin between bigint binary bit boolean both by cache call
    called cascade cascaded case cast catalog centuries century chain char character
    characteristics check checkpoint class close cluster coalesce collate collation column
    columns columns comment comments commit committed compression concurrently configuration
    conflict connect connection constraint constraints content continue conversion copy cost
    create cross csv cube current cursor cycle data database day days deallocate dec decade
    decades decimal declare default defaults deferrable deferred definer delete delimiter
    delimiters depends desc describe destroy detach dictionary disable discard disconnect
    distance distinct do document domain double drop each else enable encoding encrypted end
    enum error escape event exact except exclude excluding exclusive execute exists explain
    export export_state extension extensions external extract false family fetch filter first
    float following for force foreign forward freeze from full function functions generated
    generated glob global grant granted group grouping grouping_id groups handler having header
    hold hour hours identity if ignore ilike immediate immutable implicit import in include
    including increment index indexes inherit inherits initially inline inner inout input
    insensitive insert install instead int integer intersect interval into invoker is isnull
    isolation join json key label lambda language large last lateral leading leakproof left
    level like limit listen load local location lock locked logged macro map map mapping match
    matched materialized maxvalue merge method microsecond microseconds millennia millennium
    millisecond milliseconds minute minutes minvalue mode month months move name names national
    natural nchar nearest new next no none not nothing notify notnull nowait null nullif nulls
    numeric object of off offset oids old on only operator option options or order ordinality
    others out outer over overlaps overlay overriding owned owner parallel parser partial
    partition partitioned passing password percent persistent pivot pivot_longer pivot_wider
    placing plans policy position positional pragma preceding precision prepare prepared
    preserve primary prior privileges procedural procedure program publication qualify quarter
    quarters quote range read real reassign recheck recursive ref references referencing refresh
    register reindex relative release rename repeatable replace replica reset resource resources
    respect restart restrict returning returns revoke right role rollback rollup row rows rule
    sample savepoint schema schemas scope scroll search second seconds secret secure security
    select semi sequence sequences serializable server session set setof sets share show similar
    similarity simple skip smallint snapshot some sorted source sql stable standalone start
    statement statistics stdin stdout storage stored strict strip struct struct subscription
    substring summarize symmetric sysid system table tables tablesample tablespace target temp
    template temporary text then ties time timestamp to trailing transaction transform treat
    trigger trim true truncate trusted try_cast try_cast tuple tuple type types unbounded
    uncommitted unencrypted union unique unknown unlisten unlogged unpack unpivot until update
    use user using vacuum valid validate validator value values varchar variable variadic
    varying verbose version view views virtual volatile week weeks when where whitespace window
    with within without work wrapper write xml xmlattributes xmlconcat xmlelement xmlexists
    xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable year years yes zone
    """.split()
)


def _field_name(name: str) -> str:
    if _PLAIN_NAME.fullmatch(name) and name.lower() not in _KEYWORDS:
        return name
    return sql_identifier(name)


def duckdb_type(t: pa.DataType) -> str | None:
    """DuckDB's name for ``t`` when madstream can name it without asking DuckDB."""
    return _name(t)


def _name(t: pa.DataType) -> str | None:
    simple = _SIMPLE.get(t)
    if simple is not None:
        return simple
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        item = _name(t.value_type)
        return None if item is None else f"{item}[]"
    if pa.types.is_struct(t) and t.num_fields:
        fields = [(_field_name(f.name), _name(f.type)) for f in t]
        if any(ft is None for _, ft in fields):
            return None
        return "STRUCT(" + ", ".join(f"{n} {ft}" for n, ft in fields) + ")"
    if pa.types.is_decimal128(t) and t.precision <= 38:
        return f"DECIMAL({t.precision},{t.scale})"
    return None


def type_names(schema: pa.Schema) -> dict[str, str] | None:
    """DuckDB's type name per column of ``schema``, or ``None`` if a type needs DuckDB to name it."""
    out: dict[str, str] = {}
    for f in schema:
        name = _name(f.type)
        if name is None:
            return None
        out[f.name] = name
    return out


def duckdb_types(schema: pa.Schema) -> dict[str, str]:
    """DuckDB's name for the type of each column of ``schema`` (a column of nulls reads as text).

    Common types are named by :func:`type_names`; DuckDB itself is asked only about the rest, in
    a database opened and closed for the question, so a run need not keep one.
    """
    if not schema.names:
        return {}
    names = type_names(schema)
    if names is None:
        import duckdb

        with duckdb.connect() as con:
            # An empty stream, not an empty table: DuckDB scans a table through machinery that
            # costs ~45 MiB of RSS the first time.
            rel = con.from_arrow(pa.RecordBatchReader.from_batches(schema, []))
            names = {name: str(t) for name, t in zip(rel.columns, rel.types)}
    # A column of nulls has no type a reader can use; read it as text.
    return {name: t.replace('"NULL"', "VARCHAR") for name, t in names.items()}
