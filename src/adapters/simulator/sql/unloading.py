"""Unloading to internal stages and reading staged files back: what ``DataFrame.write.copy_into_location`` and
``session.read.parquet`` send, none of which fakesnow serves.

- ``COPY INTO @stage[/path] FROM (query) | table …`` (docs: sql-reference/sql/copy-into-location), as Snowpark's
  analyzer_utils.py ``copy_into_location`` writes it: fakesnow/copy_into.py ``copy_into`` loads tables only (a stage
  target is an HTTP 500). The query's rows become one file in the stage's folder (stages.py ``stage_folder``).
- ``DROP FILE FORMAT [IF EXISTS] name``, which fakesnow cannot parse; Snowpark's dataframe_reader.py
  ``_infer_schema_for_file_format`` drops its temporary format so. fakesnow/transforms/file_format.py
  ``create_file_format`` keeps formats as rows of ``_fs_global._fs_information_schema._fs_file_formats``; the drop
  deletes that row.
- ``SELECT $1:"C"::TYPE … FROM @stage/path (FILE_FORMAT => 'name')`` over staged Parquet files (dataframe_reader.py
  after INFER_SCHEMA, which loading.py serves): the stage becomes DuckDB's ``read_parquet`` of its files and
  ``$1:"C"`` the file's column ``C``.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from fakesnow.transforms import stage
from fakesnow.transforms.options import parse_options
from sqlglot import exp

from adapters.simulator.sql.stages import stage_folder, staged_files
from adapters.simulator.sql.statements import SqlError, Statement, short, unsupported

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.simulator.sql.taskgraph_sql import SessionSql

# what each format's COMPRESSION may be here -> the file name's extension (docs: copy-into-location, "Output")
_EXTENSIONS: dict[str, dict[str, str]] = {
    "PARQUET": {"AUTO": ".snappy.parquet", "SNAPPY": ".snappy.parquet", "NONE": ".parquet"},
    "CSV": {"AUTO": ".csv.gz", "GZIP": ".csv.gz", "NONE": ".csv"},
}
_FORMAT_OPTIONS = {"TYPE", "COMPRESSION", "FIELD_DELIMITER"}
_COPY_OPTIONS = {"FILE_FORMAT", "OVERWRITE", "SINGLE", "HEADER"}
_CSV_NULL = "\\N"  # the first of NULL_IF's default ('\\N'), what an unloaded NULL is written as
_FILES_EXIST_CODE = 3017


@dataclass(frozen=True)
class _Unload:
    format_type: str
    compression: str
    delimiter: str
    header: bool
    overwrite: bool
    single: bool


def unload(statement: Statement) -> str | None:
    """``COPY INTO @stage[/path[prefix]] FROM …``: writes the query's rows as one file and answers Snowflake's row
    (``rows_unloaded``, ``input_bytes``, ``output_bytes``)."""
    text = statement.text.lstrip().upper()
    if not (text.startswith("COPY") and "@" in text.split("FROM", 1)[0]):
        return None
    parsed = statement.parsed()
    if not isinstance(parsed, exp.Copy) or not isinstance(parsed.this, exp.Table):
        return None
    target = parsed.this.this
    location = target.name if isinstance(target, (exp.Var, exp.Literal)) else ""
    if not location.startswith("@"):
        return None
    options = _unload_options(parsed, statement)
    source = parsed.args["files"][0]
    query = source.this if isinstance(source, exp.Subquery) else exp.select("*").from_(source)
    session = _session(statement)
    table = session.arrow(query.sql(dialect="snowflake"))
    folder, name = _destination(location, options, statement)
    if table.num_rows == 0:  # Snowflake writes no file for no rows
        return _result(0, 0, 0)
    if (folder / name).exists() and not options.overwrite:
        raise SqlError(
            f"Files already existing at the unload destination: {location}. Use overwrite option to force "
            "unloading.",
            _FILES_EXIST_CODE,
            "22000",
        )
    content, input_bytes = _encoded(table, options)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return _result(table.num_rows, input_bytes, len(content))


def _unload_options(parsed: exp.Copy, statement: Statement) -> _Unload:
    parameters = {p.this.name.upper(): p for p in parsed.args.get("params") or []}
    file_format = parse_options(parameters["FILE_FORMAT"].expressions) if "FILE_FORMAT" in parameters else {}
    refused = sorted(set(parameters) - _COPY_OPTIONS) + sorted(set(file_format) - _FORMAT_OPTIONS)
    if refused:
        raise unsupported(
            f"{short(statement.text)!r}: the simulator unloads with FILE_FORMAT = (TYPE, COMPRESSION, "
            f"FIELD_DELIMITER), HEADER, OVERWRITE and SINGLE only, not {', '.join(refused)}; on Snowflake these "
            "shape the unloaded files"
        )
    copy: dict[str, Any] = parse_options(
        exp.Property(this=exp.var(n), value=p.expression) for n, p in parameters.items() if n != "FILE_FORMAT"
    )
    format_type = str(file_format.get("TYPE", "CSV")).upper()
    compression = str(file_format.get("COMPRESSION", "AUTO")).upper()
    if format_type not in _EXTENSIONS or compression not in _EXTENSIONS[format_type]:
        served = "; ".join(f"{t}: {', '.join(c)}" for t, c in _EXTENSIONS.items())
        raise unsupported(
            f"{short(statement.text)!r}: the simulator unloads TYPE {format_type} with COMPRESSION {compression} "
            f"not; it serves {served}"
        )
    return _Unload(
        format_type,
        compression,
        str(file_format.get("FIELD_DELIMITER", ",")),
        _flag(copy.get("HEADER", False)),
        _flag(copy.get("OVERWRITE", False)),
        _flag(copy.get("SINGLE", False)),
    )


def _flag(value: object) -> bool:
    return value if isinstance(value, bool) else str(value).upper() == "TRUE"


def _destination(location: str, options: _Unload, statement: Statement) -> tuple[Path, str]:
    """The folder and file name Snowflake unloads ``location`` to: ``<prefix>_0_0_0<extension>`` (prefix ``data``
    when the location ends in ``/``); with SINGLE = TRUE the location's last part as it is (docs:
    copy-into-location, SINGLE: "a file without a file extension by default")."""
    stage_name, _, path = location.partition("/")
    folder_path, _, prefix = path.rpartition("/")
    folder = stage_folder(
        f"{stage_name}/{folder_path}" if folder_path else stage_name, statement.database, statement.schema
    )
    prefix = prefix or "data"
    if options.single:
        return folder, prefix
    return folder, f"{prefix}_0_0_0{_EXTENSIONS[options.format_type][options.compression]}"


def _encoded(table: pa.Table, options: _Unload) -> tuple[bytes, int]:
    """The file's bytes and the size of the data before compression."""
    if options.format_type == "PARQUET":
        if not options.header:  # docs: copy-into-location, HEADER: "_COL_0, _COL_1 …" names without it
            table = table.rename_columns([f"_COL_{i}" for i in range(table.num_columns)])
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="snappy" if options.compression != "NONE" else "none")
        return sink.getvalue(), table.nbytes
    text = io.StringIO()
    # FIELD_OPTIONALLY_ENCLOSED_BY = NONE and ESCAPE_UNENCLOSED_FIELD = '\\' are Snowflake's unloading defaults
    writer = csv.writer(
        text, delimiter=options.delimiter, quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n"
    )
    if options.header:
        writer.writerow(table.column_names)
    writer.writerows([_csv_value(v) for v in row.values()] for row in table.to_pylist())
    data = text.getvalue().encode()
    return (gzip.compress(data) if options.compression != "NONE" else data), len(data)


def _csv_value(value: object) -> str:
    if value is None:
        return _CSV_NULL
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _result(rows: int, input_bytes: int, output_bytes: int) -> str:
    return exp.select(
        *(
            exp.Literal.number(v).as_(k, quoted=True)
            for k, v in (
                ("rows_unloaded", rows),
                ("input_bytes", input_bytes),
                ("output_bytes", output_bytes),
            )
        )
    ).sql(dialect="snowflake")


def _session(statement: Statement) -> SessionSql:
    if statement.session.sql is None:
        raise unsupported(f"{short(statement.text)!r}: unloading needs a SQL session to run the query in")
    return statement.session.sql


_FILE_FORMATS = '"_fs_global"."_fs_information_schema"."_fs_file_formats"'  # quoted: fakesnow's own names


def drop_file_format(statement: Statement) -> str | None:
    """``DROP FILE FORMAT [IF EXISTS] [db.][schema.]name`` (docs: sql/drop-file-format): the format's row goes from
    fakesnow's table of formats; without IF EXISTS a format that is not there is Snowflake's error 002003."""
    if not statement.text.lstrip().upper().startswith("DROP"):
        return None
    parsed = statement.parsed()
    if not (isinstance(parsed, exp.Drop) and str(parsed.args.get("kind")).upper() == "FILE FORMAT"):
        return None
    table = parsed.find(exp.Table)
    assert table is not None  # sqlglot parses a DROP FILE FORMAT's name as its table
    database, schema, name = (
        _normalised(part) if part is not None else default
        for part, default in (
            (table.args.get("catalog"), statement.database),
            (table.args.get("db"), statement.schema),
            (table.this, None),
        )
    )
    deleted = _session(statement).run(
        f"delete from {_FILE_FORMATS} where {_format_row(database, schema, name)}"
    )
    if not deleted.rowcount and not parsed.args.get("exists"):
        raise SqlError(
            f"SQL compilation error:\nFile format '{name}' does not exist or not authorized.", 2003, "02000"
        )
    # Snowflake's statuses for a dropped format and for IF EXISTS of a missing one
    status = (
        f"{name} successfully dropped."
        if deleted.rowcount
        else f"Drop statement executed successfully ({name} already dropped)."
    )
    return exp.select(exp.Literal.string(status).as_("status", quoted=True)).sql(dialect="snowflake")


def _format_row(database: str | None, schema: str | None, name: str | None) -> str:
    return " and ".join(
        f"{column} = {exp.Literal.string(value or '').sql(dialect='duckdb')}"
        for column, value in (("database_name", database), ("schema_name", schema), ("name", name))
    )


def _format_type(name: str, statement: Statement) -> str:
    """The TYPE of file format ``name``, as fakesnow/transforms/file_format.py ``lookup_file_format`` finds it."""
    row = _format_row(*stage.parts_from_var(name, statement.database, statement.schema))
    found = _session(statement).run(f"select type from {_FILE_FORMATS} where {row}").rows
    if not found:
        raise SqlError(
            f"SQL compilation error:\nFile format '{name}' does not exist or not authorized.", 2003, "02000"
        )
    return str(next(iter(found[0].values())))


def _normalised(identifier: exp.Identifier) -> str:
    """A name as Snowflake resolves it: unquoted upper-case, quoted as written."""
    return identifier.name if identifier.quoted else identifier.name.upper()


def read_staged(statement: Statement) -> str | None:
    """``SELECT … FROM @stage/path (FILE_FORMAT => 'name')`` of Parquet files: ``read_parquet`` of the stage's files
    under ``path``, ``$1:"C"`` reading column ``C`` (a Parquet file's ``$1`` is its row as an object)."""
    if "FILE_FORMAT" not in statement.text.upper() or "@" not in statement.text:
        return None
    parsed = statement.parsed()
    if not isinstance(parsed, exp.Query):
        return None
    changed = False
    for table in list(parsed.find_all(exp.Table)):
        reference = table.this
        if not (
            isinstance(reference, exp.Var) and reference.name.startswith("@") and table.args.get("format")
        ):
            continue
        file_format = table.args["format"]
        kind = _format_type(file_format.name, statement)
        if kind != "PARQUET":
            raise unsupported(
                f"{short(statement.text)!r}: the simulator reads staged PARQUET files, not {kind} (file format "
                f"{file_format.name}); on Snowflake this reads the stage's files in that format"
            )
        root, files = staged_files(reference.name, "", statement.database, statement.schema)
        if not files:
            raise SqlError(
                f"SQL compilation error:\nNo files found in {reference.name}: unload or PUT files there first",
                2003,
                "02000",
            )
        paths = exp.Array(expressions=[exp.Literal.string(str(root / f)) for f in files])
        select = table.find_ancestor(exp.Select)
        table.replace(exp.Table(this=exp.func("read_parquet", paths), alias=table.args.get("alias")))
        if select is not None:
            select.transform(_column_of_dollar_one, copy=False)
        changed = True
    return parsed.sql(dialect="snowflake") if changed else None


def _column_of_dollar_one(node: exp.Expr) -> exp.Expr:
    dollar_one = exp.Parameter(this=exp.Literal.number(1))
    if isinstance(node, exp.JSONExtract) and node.this == dollar_one:
        keys = [k for k in node.expression.expressions if isinstance(k, exp.JSONPathKey)]
        if len(keys) == 1:
            return exp.column(keys[0].this, quoted=True)
    return node
