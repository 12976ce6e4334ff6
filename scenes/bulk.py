"""Set-based SQL for sync's hot path, on SQLite and PostgreSQL.

``bulk_create(update_conflicts=True)`` spends most of a 500-scene page compiling SQL value
by value. These helpers take plain tuples and send one statement per table and page:

- SQLite: one prepared statement run by ``executemany`` (a C loop, no per-row parsing);
- PostgreSQL: ``INSERT ... SELECT * FROM unnest(<one array per column>)``, so the server
  parses and plans one statement with a handful of parameters (``executemany`` would cost a
  parse/bind/execute per row, and multi-row ``VALUES`` thousands of placeholders).

Both speak ``INSERT ... ON CONFLICT (pk) DO UPDATE SET col = EXCLUDED.col``.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models


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


def _adapter(field: object) -> Callable[[Any], Any] | None:
    """How a Python value of ``field`` becomes a parameter (None: as it is)."""
    if isinstance(field, models.JSONField):
        return json.dumps  # PostgreSQL casts the text to jsonb; SQLite stores it as is
    if connection.vendor == "postgresql":
        return None  # psycopg adapts dates and aware datetimes natively
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    return None


def _adapted_columns(model: type[models.Model], fields: Sequence[str],
                     rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    columns = []
    for name, values in zip(fields, zip(*rows, strict=True), strict=True):
        adapt = _adapter(model._meta.get_field(name))
        columns.append([value if adapt is None or value is None else adapt(value)
                        for value in values])
    return columns


def _insert(model: type[models.Model], fields: Sequence[str], rows: list[tuple[Any, ...]],
            on_conflict: str) -> None:
    table = _quote(model._meta.db_table)
    names = ", ".join(_columns(model, fields))
    columns = _adapted_columns(model, fields, rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(
                f"%s::{model._meta.get_field(name).db_type(connection)}[]" for name in fields
            )
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {on_conflict}",
                columns,
            )
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({placeholders}) {on_conflict}",
                list(zip(*columns, strict=True)),
            )


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
