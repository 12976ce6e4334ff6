"""Set-based SQL for sync's hot path, the same on SQLite and PostgreSQL.

``bulk_create(update_conflicts=True)`` spends most of a 500-scene page compiling SQL value
by value; these helpers send one prepared statement per table and page instead
(``executemany`` over plain tuples), adapting only the column types that need it. Both
databases speak ``INSERT ... ON CONFLICT (pk) DO UPDATE SET col = EXCLUDED.col``.
"""

from collections.abc import Callable, Iterable, Sequence
from functools import cache

from django.db import connection, models


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _adapters(model: type[models.Model], fields: tuple[str, ...]) -> tuple[Callable | None, ...]:
    """Per column: how a Python value becomes a database parameter (None: as it is)."""
    ops = connection.ops
    adapters = []
    for name in fields:
        field = model._meta.get_field(name)
        if isinstance(field, models.DateTimeField):
            adapters.append(ops.adapt_datetimefield_value)
        elif isinstance(field, models.DateField):
            adapters.append(ops.adapt_datefield_value)
        elif isinstance(field, models.JSONField):
            adapters.append(lambda value, field=field: field.get_db_prep_value(value, connection))
        else:
            adapters.append(None)
    return tuple(adapters)


def _columns(model: type[models.Model], fields: Sequence[str]) -> list[str]:
    return [_quote(model._meta.get_field(name).column) for name in fields]


def _adapt(model, fields: tuple[str, ...], rows: Iterable[tuple]) -> list[tuple]:
    adapters = _adapters(model, fields)
    if not any(adapters):
        return list(rows)
    return [
        tuple(value if adapt is None or value is None else adapt(value)
              for adapt, value in zip(adapters, row, strict=True))
        for row in rows
    ]


def upsert(model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
    """Insert ``rows`` (values in ``fields`` order, primary key first) or update them."""
    if not rows:
        return
    fields = tuple(fields)
    columns = _columns(model, fields)
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns[1:])
    sql = (
        f"INSERT INTO {_quote(model._meta.db_table)} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, _adapt(model, fields, rows))


def insert(model: type[models.Model], fields: Sequence[str], rows: list[tuple]) -> None:
    """Insert ``rows``, skipping any that would break a unique constraint."""
    if not rows:
        return
    fields = tuple(fields)
    columns = _columns(model, fields)
    sql = (
        f"INSERT INTO {_quote(model._meta.db_table)} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, _adapt(model, fields, rows))


def select_where_in(
    model: type[models.Model], fields: Sequence[str], key: str, values: Sequence
) -> list[tuple]:
    """``SELECT fields FROM model WHERE key IN values`` as tuples."""
    if not values:
        return []
    sql = (
        f"SELECT {', '.join(_columns(model, fields))} FROM {_quote(model._meta.db_table)} "
        f"WHERE {_columns(model, [key])[0]} IN ({', '.join(['%s'] * len(values))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(values))
        return cursor.fetchall()


def delete_where_in(model: type[models.Model], key: str, values: Sequence) -> None:
    """``DELETE FROM model WHERE key IN values``: no cascades, no signals."""
    if not values:
        return
    sql = (
        f"DELETE FROM {_quote(model._meta.db_table)} "
        f"WHERE {_columns(model, [key])[0]} IN ({', '.join(['%s'] * len(values))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(values))
