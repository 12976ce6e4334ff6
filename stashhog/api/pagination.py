"""Paging: page-number paging with an explicit envelope and validated query parameters
(``page``, ``per_page``, ``sort_by``, ``sort_order``) for every paginated list, and
``limit`` for the short newest-first lists that answer a bare array."""

import math

from django.db.models import F
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from stashhog.api.exceptions import InvalidInput
from stashhog.api.validation import validated

MAX_PAGE = 2**31 - 1  # past it the row offset would overflow; and no list is that long
MAX_PER_PAGE = 100


class PageQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=1)
    per_page = serializers.IntegerField(min_value=1, max_value=MAX_PER_PAGE, default=50)
    sort_by = serializers.CharField(required=False)
    sort_order = serializers.ChoiceField(choices=["asc", "desc"], required=False)


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


def order_queryset(queryset, sortable: dict[str, str], sort_by: str | None,
                   sort_order: str | None, default: str):
    """Order by a whitelisted field, with the primary key as tie-breaker so pages are stable.

    Without ``sort_by`` the view's ``default`` applies ("-field" for newest first), and
    ``sort_order`` alone flips or keeps its direction.
    """
    if sort_by:
        field, descending = sortable[sort_by], sort_order == "desc"
    else:
        field, descending = default.removeprefix("-"), default.startswith("-")
        if sort_order:
            descending = sort_order == "desc"
    expression = F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_last=True)
    tiebreak = "-pk" if descending else "pk"
    return queryset.order_by(expression, tiebreak)


class StashHogPagination(BasePagination):
    """``{"items", "total", "page", "per_page", "pages"}``.

    Views declare ``sortable`` (API name -> model field) and ``default_sort`` (a model
    field, "-field" for descending); this class validates the query, orders, counts and
    slices.
    """

    def paginate_queryset(self, queryset, request, view=None):
        sortable = getattr(view, "sortable", {})
        params = read_page_query(request, sortable)
        queryset = order_queryset(
            queryset, sortable, params.get("sort_by"), params.get("sort_order"),
            getattr(view, "default_sort", "pk"),
        )
        self.page, self.per_page = params["page"], params["per_page"]
        self.total = queryset.count()
        start = (self.page - 1) * self.per_page
        return list(queryset[start:start + self.per_page])

    def get_paginated_response(self, data):
        return Response({
            "items": data,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": math.ceil(self.total / self.per_page) if self.total else 0,
        })

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["items", "total", "page", "per_page", "pages"],
            "properties": {
                "items": schema,
                "total": {"type": "integer", "example": 1234},
                "page": {"type": "integer", "example": 1},
                "per_page": {"type": "integer", "example": 50},
                "pages": {"type": "integer", "example": 25},
            },
        }

    def get_schema_operation_parameters(self, view):
        sortable = sorted(getattr(view, "sortable", {}))
        return [
            {"name": "page", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}},
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
