"""The one filter backend: django-filter, and a 400 for any query parameter nobody reads.

A typo (``?studio=5`` for ``studio_id``) must not silently return everything. What a list
reads is its FilterSet's filters, its paginator's parameters and DRF's ``format``; anything
else answers 400 naming the parameter. Every list gets this by being a list: views declare
nothing.

A request that names none of the filters (most of them: a page, a detail) gets its queryset
as it is: every filter skips an empty value, so building the FilterSet (a deep copy of its
filters, then a form) would change nothing and cost more CPU than a page's query.
"""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.settings import api_settings

from stashhog.api.exceptions import InvalidInput


def known_query_parameters(filterset_class, view) -> set[str]:
    names = {api_settings.URL_FORMAT_OVERRIDE}
    if filterset_class is not None:
        names.update(filterset_class.base_filters)
    paginator = getattr(view, "paginator", None)
    if paginator is not None:
        names.update(param["name"] for param in paginator.get_schema_operation_parameters(view))
    return names


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = known_query_parameters(filterset_class, view)
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
                detail={name: [f"Unknown query parameter; this list takes: "
                               f"{', '.join(sorted(known))}."] for name in unknown},
            )
        if filterset_class is None or request.query_params.keys().isdisjoint(
                filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)
