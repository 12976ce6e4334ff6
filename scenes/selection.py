"""Which scenes: the scene list's filters as typed values, and the one place that applies them.

The API's FilterSet (query parameters) and the analysis request body (JSON) each validate
their input at the edge and hand a ``SceneFilters`` to ``filter_scenes``.
"""

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, TypeVar

from django.db import models
from django.db.models import Count, QuerySet

from scenes.dates import lower_bound
from scenes.entities import PERFORMERS, TAGS, EntityKind
from scenes.models import Scene


@dataclass(frozen=True)
class SceneFilters:
    """Every filter is optional; a scene must match all that are given."""

    search: str = ""  # title, details or a file path contains it (any case)
    studio_id: str | None = None
    performer_ids: tuple[str, ...] = ()  # scenes with ALL of them
    tag_ids: tuple[str, ...] = ()  # scenes with ALL of them
    organized: bool | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, as JSON values (for job parameters and plan metadata)."""
        values = {}
        for name, value in asdict(self).items():
            if value in _UNSET:
                continue
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            values[name] = value
        return values

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "SceneFilters":
        """From values already validated (cleaned form data, a serializer's, or ``as_dict``'s
        output): unset ones are dropped, lists become tuples, ISO dates dates."""
        typed = {}
        for name, value in values.items():
            if value in _UNSET:
                continue
            if name in _DATES and isinstance(value, str):
                value = date.fromisoformat(value)
            elif isinstance(value, list):
                value = tuple(value)
            typed[name] = value
        return cls(**typed)


Rows = TypeVar("Rows", bound=models.Model)
_UNSET: tuple[object, ...] = (None, "", (), [])
_DATES = ("date_from", "date_to")


def _with_all(kind: EntityKind, entity_ids: tuple[str, ...]) -> QuerySet[Any, Any]:
    """Ids of the scenes linked to ALL these entities: one subquery on the link table, no
    joins, so counting a page stays a count over scene ids."""
    ids: QuerySet[Any, Any] = (
        kind.link._default_manager.filter(**{f"{kind.column}__in": entity_ids})
        .values("scene_id")
        .annotate(matched=Count(kind.column))
        .filter(matched=len(entity_ids))
        .values("scene_id")
    )
    return ids


def contains_lowered(queryset: QuerySet[Rows], column: str, text: str) -> QuerySet[Rows]:
    """Rows whose ``column`` (kept lower-cased by sync) contains ``text``: a plain LIKE that
    a trigram index on PostgreSQL can serve (icontains would wrap the column in UPPER())."""
    text = text.strip().lower()
    return queryset.filter(**{f"{column}__contains": text}) if text else queryset


def filter_scenes(filters: SceneFilters,
                  scenes: QuerySet[Scene] | None = None) -> QuerySet[Scene]:
    """``scenes`` (default: all) narrowed to those matching ``filters``."""
    scenes = Scene.objects.all() if scenes is None else scenes
    scenes = contains_lowered(scenes, "search_text", filters.search)
    if filters.studio_id:
        scenes = scenes.filter(studio_id=filters.studio_id)
    for kind, entity_ids in ((PERFORMERS, filters.performer_ids), (TAGS, filters.tag_ids)):
        if entity_ids:
            scenes = scenes.filter(id__in=_with_all(kind, entity_ids))
    if filters.organized is not None:
        scenes = scenes.filter(organized=filters.organized)
    # Dates are Stash's text (``scenes.dates``): compared as text, a partial date counts as
    # the first day of its month or year.
    if filters.date_from is not None:
        scenes = scenes.filter(scene_date__gte=lower_bound(filters.date_from))
    if filters.date_to is not None:
        scenes = scenes.filter(scene_date__lte=filters.date_to.isoformat())
    return scenes
