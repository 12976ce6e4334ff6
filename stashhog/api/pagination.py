"""Paging: page-number paging with an explicit envelope and validated query parameters
(``page`` or ``cursor``, ``per_page``, ``sort_by``, ``sort_order``) for every paginated
list, and ``limit`` for the short newest-first lists that answer a bare array.

Two costs grow with a list's length, and both are bounded here:

- Counting. ``total`` is exact up to ``COUNT_LIMIT`` items; past it counting stops and
  ``total`` is a lower bound, which ``total_exact: false`` says. The count rides in the
  page's own statement (an uncorrelated scalar subquery, run once), so a page is one
  round trip to the database, not two.
- Skipping. ``page=N`` makes the database walk the N-1 pages before it. ``next_cursor``
  continues after the last item of a page instead (keyset paging: ``WHERE (sort value,
  id) > (last ones)``), so page 200 costs what page 1 costs.
"""

import base64
import binascii
import datetime
import hashlib
import json
import math

from django.core.exceptions import ValidationError
from django.db.models import F, IntegerField, Q, Subquery
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from stashhog.api.exceptions import InvalidInput
from stashhog.api.validation import validated

MAX_PAGE = 2**31 - 1  # past it the row offset would overflow; and no list is that long
MAX_PER_PAGE = 100
# Counting a list stops here. At 100,000 scenes on PostgreSQL, counting all of them took
# 130 times as long as counting to 1,001 (8 ms on an idle machine), and counting a search
# that matches 8,000 scenes 3 times as long (each trigram match is rechecked in the table).
COUNT_LIMIT = 1_000
MAX_CURSOR_LENGTH = 1000
# Annotations each row of a page carries: its sort key and primary key (read back for the
# next cursor; values rows lack the model's attributes) and the list's capped count.
_KEY, _KEY_PK, _COUNTED = "page_sort_key", "page_sort_pk", "page_counted"


class CappedCount(Subquery):
    """How many rows ``queryset`` has, counting no further than ``limit`` + 1."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) capped)"
    output_field = IntegerField()
    empty_result_set_value = 0

    def __init__(self, queryset, limit: int):
        super().__init__(queryset.order_by().values("pk")[:limit + 1])


class PageQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=1)
    cursor = serializers.CharField(required=False, max_length=MAX_CURSOR_LENGTH)
    per_page = serializers.IntegerField(min_value=1, max_value=MAX_PER_PAGE, default=50)
    sort_by = serializers.CharField(required=False)
    sort_order = serializers.ChoiceField(choices=["asc", "desc"], required=False)

    def validate(self, attrs):
        if "cursor" in attrs and "page" in self.initial_data:
            raise serializers.ValidationError(
                {"cursor": ["Give page or cursor, not both: a cursor knows its page."]})
        return attrs


def read_page_query(request, sortable: dict[str, str] | None = None) -> dict:
    """Validated paging parameters; ``sort_by`` must be a key of ``sortable``."""
    params = validated(PageQuery, request.query_params)
    sort_by = params.get("sort_by")
    if sort_by is not None and sort_by not in (sortable or {}):
        raise InvalidInput(
            "Invalid input",
            detail={"sort_by": [f"Must be one of: {', '.join(sorted(sortable or {})) or 'none'}."]},
        )
    return params


def sort_key(sortable: dict[str, str], sort_by: str | None, sort_order: str | None,
             default: str) -> tuple[str, bool]:
    """``(field, descending)``: a whitelisted field, or the view's ``default`` ("-field" for
    newest first) whose direction ``sort_order`` alone flips or keeps."""
    if sort_by:
        return sortable[sort_by], sort_order == "desc"
    field, descending = default.removeprefix("-"), default.startswith("-")
    return field, (sort_order == "desc") if sort_order else descending


def order_queryset(queryset, sortable: dict[str, str], sort_by: str | None,
                   sort_order: str | None, default: str):
    """Order by a whitelisted field, with the primary key as tie-breaker so pages are stable
    (nulls last in both directions)."""
    field, descending = sort_key(sortable, sort_by, sort_order, default)
    _, _, key_field = _with_sort_key(queryset, field)
    return _ordered(queryset, field, descending, key_field.null)


def _with_sort_key(queryset, field: str):
    """``(queryset, key, key_field)``: the queryset with the sort field selectable as
    ``key`` (an annotation is read as itself: re-annotating it would evaluate it twice), and
    the key's model field (its type, whether it can be null)."""
    key = field if field in queryset.query.annotation_select else _KEY
    if key == _KEY:
        queryset = queryset.annotate(**{_KEY: F(field)})
    return queryset, key, queryset.query.annotations[key].output_field


def _ordered(queryset, field: str, descending: bool, nullable: bool):
    # NULLS LAST is said only where a null can occur: a descending order that says it cannot
    # walk an ascending index backwards (PostgreSQL), and without nulls it changes nothing.
    order = F(field).desc if descending else F(field).asc
    return queryset.order_by(order(nulls_last=nullable or None), "-pk" if descending else "pk")


def rows_after(field: str, descending: bool, nullable: bool, value, pk) -> Q:
    """The rows after ``(value, pk)`` in ``ORDER BY field NULLS LAST, pk``."""
    later = "lt" if descending else "gt"
    if value is None:  # in the trailing run of nulls, ordered by pk alone
        return Q(**{f"{field}__isnull": True, f"pk__{later}": pk})
    # ``field >= value`` is implied by the rest; said outright, it bounds an index scan.
    condition = Q(**{f"{field}__{'lte' if descending else 'gte'}": value}) & (
        Q(**{f"{field}__{later}": value}) | Q(**{field: value, f"pk__{later}": pk}))
    return condition | Q(**{f"{field}__isnull": True}) if nullable else condition


def _query_digest(request) -> str:
    """What a cursor is bound to: the path and every query parameter but the position."""
    params = sorted((name, value) for name, values in request.query_params.lists()
                    if name not in ("page", "cursor") for value in values)
    return hashlib.blake2b(json.dumps([request.path.rstrip("/"), params]).encode(),
                           digest_size=6).hexdigest()


def _json_value(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


def _encode_cursor(position: int, value, pk, digest: str) -> str:
    raw = json.dumps([position, _json_value(value), _json_value(pk), digest]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, digest: str, key_field, pk_field) -> tuple[int, object, object]:
    """``(position, sort value, pk)`` of the item the cursor follows."""
    invalid = InvalidInput("Invalid input", detail={"cursor": [
        "Not a cursor of this list: pass a next_cursor as it came, with the query it came "
        "with (same filters, sort and per_page)."]})
    try:
        position, value, pk, bound_to = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if bound_to != digest or not isinstance(position, int) or position < 0:
            raise invalid
        value = None if value is None else key_field.to_python(value)
        pk = pk_field.to_python(pk)
        for field, checked in ((key_field, value), (pk_field, pk)):
            if checked is not None:
                field.run_validators(checked)  # a number the column cannot hold is no cursor
        return position, value, pk
    except (ValueError, TypeError, binascii.Error, ValidationError):
        raise invalid from None


def _annotation(row, name: str):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _total(counted: int, position: int, shown: int, more: bool,
           by_offset: bool) -> tuple[int, bool]:
    """``(total, exact)`` from the capped count and, past the limit, what an offset page
    proves: its position, its items and whether one follows (a page that ends the list knows
    the exact total). A cursor's position is as of its first page (items may have come or
    gone before it since), so it proves nothing."""
    if counted <= COUNT_LIMIT:
        return counted, True
    if by_offset and shown:
        known = position + shown + more
        return (known, True) if not more else (max(known, COUNT_LIMIT), False)
    return COUNT_LIMIT, False


class StashHogPagination(BasePagination):
    """``{"items", "total", "total_exact", "page", "per_page", "pages", "next_cursor"}``.

    Views declare ``sortable`` (API name -> model field) and ``default_sort`` (a model
    field, "-field" for descending); this class validates the query, orders, slices (by
    offset or after a cursor) and counts as little as it can.
    """

    def paginate_queryset(self, queryset, request, view=None):
        sortable = getattr(view, "sortable", {})
        params = read_page_query(request, sortable)
        field, descending = sort_key(sortable, params.get("sort_by"), params.get("sort_order"),
                                     getattr(view, "default_sort", "pk"))
        queryset, key, key_field = _with_sort_key(queryset, field)
        queryset = _ordered(queryset, field, descending, key_field.null)
        self.per_page = per_page = params["per_page"]
        by_offset = "cursor" not in params
        rows = queryset.annotate(**{_KEY_PK: F("pk"),
                                    _COUNTED: CappedCount(queryset, COUNT_LIMIT)})
        digest = _query_digest(request)
        if by_offset:
            position = (params["page"] - 1) * per_page
            if position:
                # The skipped rows are walked for their primary keys alone (index-only where
                # an index holds the order and the key), and only the page's rows are read.
                rows = rows.filter(
                    pk__in=queryset.values("pk")[position:position + per_page + 1])
        else:
            position, value, pk = _decode_cursor(params["cursor"], digest, key_field,
                                                 queryset.model._meta.pk)
            rows = rows.filter(rows_after(field, descending, key_field.null, value, pk))
        fetched = list(rows[:per_page + 1])  # one more than a page: is there a next one?
        items, more = fetched[:per_page], len(fetched) > per_page
        self.page = position // per_page + 1
        if fetched:
            counted = _annotation(fetched[0], _COUNTED)
        elif by_offset and not position:
            counted = 0  # the list is empty
        else:  # past the end: no row brought the count
            counted = queryset.order_by()[:COUNT_LIMIT + 1].count()
        self.total, self.total_exact = _total(counted, position, len(items), more, by_offset)
        self.next_cursor = None
        if more:
            last = items[-1]
            self.next_cursor = _encode_cursor(position + per_page, _annotation(last, key),
                                              _annotation(last, _KEY_PK), digest)
        return items

    def get_paginated_response(self, data):
        return Response({
            "items": data,
            "total": self.total,
            "total_exact": self.total_exact,
            "page": self.page,
            "per_page": self.per_page,
            "pages": math.ceil(self.total / self.per_page),
            "next_cursor": self.next_cursor,
        })

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["items", "total", "total_exact", "page", "per_page", "pages",
                         "next_cursor"],
            "properties": {
                "items": schema,
                "total": {"type": "integer", "example": 1234, "description": (
                    f"How many items match. Counted exactly up to {COUNT_LIMIT:,}; past that "
                    "(total_exact false) a lower bound: the list has at least this many.")},
                "total_exact": {"type": "boolean", "example": True, "description": (
                    "Whether total is the exact number (else a lower bound).")},
                "page": {"type": "integer", "example": 1, "description": (
                    "This page's number. After a cursor: its number when the cursor's first "
                    "page was read (items added or removed before it since may shift it).")},
                "per_page": {"type": "integer", "example": 50},
                "pages": {"type": "integer", "example": 25, "description": (
                    "ceil(total / per_page): a lower bound when total is.")},
                "next_cursor": {"type": "string", "nullable": True, "example": None,
                                "description": (
                    "Pass as cursor (with the same other query parameters) for the page after "
                    "this one, as fast as the first page however deep; null on the last "
                    "page.")},
            },
        }

    def get_schema_operation_parameters(self, view):
        sortable = sorted(getattr(view, "sortable", {}))
        return [
            {"name": "page", "in": "query", "required": False,
             "description": "Page number. Deep pages cost more the deeper they are; follow "
                            "next_cursor to walk a long list.",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}},
            {"name": "cursor", "in": "query", "required": False,
             "description": "A next_cursor from the previous page of this same query (same "
                            "filters, sort and per_page): the page after it. Not with page.",
             "schema": {"type": "string", "maxLength": MAX_CURSOR_LENGTH}},
            {"name": "per_page", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                        "default": 50}},
            {"name": "sort_by", "in": "query", "required": False,
             "schema": {"type": "string", "enum": sortable} if sortable else {"type": "string"}},
            {"name": "sort_order", "in": "query", "required": False,
             "schema": {"type": "string", "enum": ["asc", "desc"]},
             "description": "Default: ascending when sort_by is given, else the list's own "
                            "order."},
        ]


class LimitQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PER_PAGE, default=50)


class LimitPagination(BasePagination):
    """The first ``limit`` items in the view's own order, as a bare array (for short
    newest-first lists such as recent jobs)."""

    def paginate_queryset(self, queryset, request, view=None):
        return list(queryset[:validated(LimitQuery, request.query_params)["limit"]])

    def get_paginated_response(self, data):
        return Response(data)

    def get_paginated_response_schema(self, schema):
        return schema

    def get_schema_operation_parameters(self, view):
        return [{"name": "limit", "in": "query", "required": False,
                 "description": "How many items, newest first.",
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                            "default": 50}}]
