"""Set-based SQL for sync's hot path, on SQLite and PostgreSQL.

``bulk_create(update_conflicts=True)`` spends most of a 500-scene page compiling SQL value
by value. These helpers take plain tuples and send one round of statements per table and
page, whatever the number of rows:

- SQLite: one prepared statement run by ``executemany`` (a C loop, no per-row parsing);
- PostgreSQL: ``COPY`` into a temporary staging table, then one ``INSERT ... SELECT`` that
  empties it into the real table. COPY streams the rows with no statement per row and no
  parameter arrays to build; the merge gives ``ON CONFLICT`` its upsert. Staging tables
  are temporary (one per session and table), made on first use and truncated after each
  merge, in its transaction (a rollback leaves them as empty: its rows never count).
  Rows known to be new (a first load) skip both: ``append`` copies them straight in.

Values may be what Stash sends: timestamps and dates as ISO text, lists for JSON fields.
Each column is adapted once per call for the database at hand (SQLite keeps datetimes as
UTC text without an offset, as Django does; PostgreSQL parses the ISO text itself).
"""

import functools
import hashlib
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import orjson
from django.db import connection, models, transaction


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def column(model: type[models.Model], name: str) -> str:
    """The database column of the model's concrete field ``name``."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field.column


def _columns(model: type[models.Model], fields: Sequence[str]) -> list[str]:
    return [_quote(column(model, name)) for name in fields]


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_datetime() -> Callable[[datetime | str], str]:
    """What Django's SQLite backend stores: the time in the connection's zone, no offset."""
    zone = connection.timezone

    @functools.lru_cache(maxsize=64)  # a page's rows share their sync stamp
    def stored(moment: datetime) -> str:
        return moment.astimezone(zone).replace(tzinfo=None).isoformat(" ")

    def adapt(value: datetime | str) -> str:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
            return value.astimezone(zone).replace(tzinfo=None).isoformat(" ")
        return stored(value)

    return adapt


def _sqlite_date(value: date | str) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _adapter(field: object) -> Callable[[Any], Any] | None:
    """How a value of ``field`` becomes a parameter (None: as it is)."""
    if isinstance(field, models.JSONField):
        return _json_text  # PostgreSQL casts the text to jsonb; SQLite stores it as is
    if connection.vendor == "postgresql":
        return None  # psycopg and the server take ISO text, dates and aware datetimes
    if isinstance(field, models.DateTimeField):
        return _sqlite_datetime()
    if isinstance(field, models.DateField):
        return _sqlite_date
    return None


def _adapted(model: type[models.Model], fields: Sequence[str],
             rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``rows`` with each column that needs it adapted: a column at a time, so the columns
    that need nothing cost nothing."""
    adapters = [_adapter(model._meta.get_field(name)) for name in fields]
    if not any(adapters):
        return rows
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for position, adapt in enumerate(adapters):
        if adapt is not None:
            columns[position] = [None if value is None else adapt(value)
                                 for value in columns[position]]
    return list(zip(*columns, strict=True))


def _staging_table(cursor: Any, table: str, names: str) -> str:
    """A temporary table with the ``names`` columns of ``table``, made on first use in a
    session. Asked for on every write: whether it still exists is the server's to say (a
    rollback, or a pooled session's reset, takes it away), so nothing is remembered here.
    """
    digest = hashlib.blake2s(f"{table}({names})".encode(), digest_size=4).hexdigest()
    stage = _quote(f"stage_{table}_{digest}")
    # Not ON COMMIT DELETE ROWS: that truncates every such table of the session at every
    # commit, which cost about 15 ms a page of scenes (a third of a first sync's commits).
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
                   f"AS SELECT {names} FROM {_quote(table)} WITH NO DATA")
    return stage


def _copy(cursor: Any, table: str, names: str, rows: list[tuple[Any, ...]]) -> None:
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert_values(cursor: Any, table: str, names: str, rows: list[tuple[Any, ...]],
                   on_conflict: str = "") -> None:
    placeholders = ", ".join(["%s"] * len(rows[0]))
    cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders}) {on_conflict}",
                       rows)


def _insert(model: type[models.Model], fields: Sequence[str], rows: list[tuple[Any, ...]],
            on_conflict: str) -> None:
    table = model._meta.db_table
    names = ", ".join(_columns(model, fields))
    rows = _adapted(model, fields, rows)
    # The copy and the merge in one transaction (a temporary table outlives neither).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            stage = _staging_table(cursor, table, names)
            _copy(cursor, stage, names, rows)
            cursor.execute(f"INSERT INTO {_quote(table)} ({names}) SELECT {names} FROM {stage} "
                           f"{on_conflict}")
            cursor.execute(f"TRUNCATE {stage}")
        else:
            _insert_values(cursor, _quote(table), names, rows, on_conflict)


def append(model: type[models.Model], fields: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` known to be new, straight into the table (on PostgreSQL, COPY with no
    staging table and no merge). Raises ``IntegrityError`` if one breaks a unique
    constraint: callers run it in a savepoint and fall back to ``upsert``/``insert``."""
    if not rows:
        return
    table = _quote(model._meta.db_table)
    names = ", ".join(_columns(model, fields))
    rows = _adapted(model, fields, rows)
    # psycopg's COPY errors pass Django's cursor wrapper unwrapped: made IntegrityError here.
    with connection.wrap_database_errors, connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _copy(cursor, table, names, rows)
        else:
            _insert_values(cursor, table, names, rows)


def upsert(model: type[models.Model], fields: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (values in ``fields`` order, primary key first) or update them."""
    if rows:
        columns = _columns(model, fields)
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns[1:])
        _insert(model, fields, rows, f"ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}")


def insert(model: type[models.Model], fields: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows``, skipping any that would break a unique constraint."""
    if rows:
        _insert(model, fields, rows, "ON CONFLICT DO NOTHING")


def _where_in(model: type[models.Model], key: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``key IN values`` (on PostgreSQL ``= ANY(array)``: one parameter, not thousands)."""
    column = _columns(model, [key])[0]
    if connection.vendor == "postgresql":
        db_type = model._meta.get_field(key).db_type(connection)
        return f"{column} = ANY(%s::{db_type}[])", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def select_where_in(
    model: type[models.Model], fields: Sequence[str], key: str, values: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """``SELECT fields FROM model WHERE key IN values`` as tuples."""
    if not values:
        return []
    condition, params = _where_in(model, key, values)
    sql = (f"SELECT {', '.join(_columns(model, fields))} FROM {_quote(model._meta.db_table)} "
           f"WHERE {condition}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def delete_where_in(model: type[models.Model], key: str, values: Sequence[Any]) -> None:
    """``DELETE FROM model WHERE key IN values``: no cascades, no signals."""
    if not values:
        return
    condition, params = _where_in(model, key, values)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_quote(model._meta.db_table)} WHERE {condition}", params)
