"""Value-row querysets the ORM composes once, then runs again for other values.

The related rows of a scene page (its files, its studio, performers and tags) are two
statements whose text never changes: only the page's scene ids do, and ``AnyOf`` sends those
as one parameter. Composing and compiling them through the ORM on every request cost 1.8 ms
of CPU, running them 0.6 ms (benchmarks/load.py's database, a page of 50 scenes).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet

from stashhog.lookups import parameter


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # where ``params`` holds the values
    names: tuple[str, ...]  # of the row's columns, as ``values()`` names them
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]  # (column, functions, field)


def _distinct(values: list[Any]) -> list[Any]:
    """The values as ``AnyOf`` sends them: each once, without None."""
    return [value for value in dict.fromkeys(values) if value is not None]


class ReusedStatement:
    """``build(values)`` is a ``values()`` queryset in which ``values`` (as the column holds
    them: strings for text ids) reach the database only through ``AnyOf`` lookups; any other
    parameter must be the same on every call.
    ``rows(values)`` answers what ``list(build(values))`` would: the first call composes
    and compiles it, later calls run that SQL with the new values in its place and convert
    the columns as the ORM does."""

    def __init__(self, build: Callable[[list[Any]], QuerySet], using: str = "default"):
        self._build = build
        self._using = using
        self._compiled: _Compiled | None = None

    def rows(self, values: list[Any]) -> list[dict[str, Any]]:
        if not _distinct(values):
            return list(self._build(values))  # the ORM's answer: AnyOf of nothing is false
        connection = connections[self._using]
        compiled = self._compiled or self._compile(values)
        params = list(compiled.params)
        for slot in compiled.slots:
            params[slot] = parameter(connection.vendor, _distinct(values))
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = [list(row) for row in rows]
            for row in rows:
                for column, functions, field in compiled.converters:
                    value = row[column]
                    for function in functions:
                        value = function(value, field, connection)
                    row[column] = value
        # A row may end in columns the ORM added for ordering, which ``values()`` leaves out.
        return [dict(zip(compiled.names, row, strict=False)) for row in rows]

    def _compile(self, values: list[Any]) -> _Compiled:
        queryset = self._build(values)
        query = queryset.query
        compiler = query.get_compiler(self._using)
        sql, params = compiler.as_sql()
        encoded = parameter(compiler.connection.vendor, _distinct(values))
        slots = tuple(index for index, value in enumerate(params) if value == encoded)
        if not slots:
            raise ValueError("the values reach the statement through no AnyOf lookup")
        names = (tuple(query.selected) if query.selected else
                 (*query.extra_select, *query.values_select, *query.annotation_select))
        fields = [selected[0] for selected in compiler.select[:compiler.col_count]]
        converters = tuple((column, tuple(functions), field) for column, (functions, field)
                           in compiler.get_converters(fields).items())
        # Two threads compiling at once each store the same statement.
        self._compiled = _Compiled(sql, tuple(params), slots, names, converters)
        return self._compiled
