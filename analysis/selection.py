"""The scenes an analysis run covers: explicit ids, the scene list's filters, both, or all."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from analysis.library import SceneSnapshot, iter_scene_chunks, load_snapshots
from scenes.batching import SCENE_BATCH, batched
from scenes.models import Scene
from scenes.selection import SceneFilters, filter_scenes
from stashhog.api.exceptions import InvalidInput

UNKNOWN_IDS_LISTED = 50


@dataclass(frozen=True)
class SceneSelection:
    scene_ids: tuple[str, ...] | None = None  # sorted, without repeats; None: no id list
    filters: SceneFilters | None = None

    @classmethod
    def of(cls, scene_ids: Iterable[object] | None = None,
           filters: SceneFilters | None = None) -> "SceneSelection":
        ids = tuple(sorted(set(map(str, scene_ids)))) if scene_ids is not None else None
        return cls(ids, filters if filters and filters.as_dict() else None)

    def as_parameters(self) -> dict[str, Any]:
        """JSON for the job's parameters (``from_parameters`` reads it back)."""
        return {
            "scene_ids": list(self.scene_ids) if self.scene_ids is not None else None,
            "filters": self.filters.as_dict() if self.filters else None,
        }

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> "SceneSelection":
        filters = parameters.get("filters")
        return cls.of(parameters.get("scene_ids"),
                      SceneFilters.from_values(filters) if filters else None)

    def _filtered(self) -> QuerySet[Scene]:
        return filter_scenes(self.filters) if self.filters else Scene.objects.all()

    def check_ids(self) -> None:
        """InvalidInput listing the scene ids the library does not have."""
        if self.scene_ids is None:
            return
        unknown = []
        for chunk in batched(self.scene_ids):
            known = set(Scene.objects.filter(id__in=chunk).values_list("id", flat=True))
            unknown += [scene_id for scene_id in chunk if scene_id not in known]
        if unknown:
            raise InvalidInput(
                f"{len(unknown)} scene id(s) are not in the library",
                detail={"scene_ids": unknown[:UNKNOWN_IDS_LISTED]},
            )

    def count(self) -> int:
        if self.scene_ids is None:
            return self._filtered().count()
        if not self.filters:
            return len(self.scene_ids)
        queryset = self._filtered()
        return sum(queryset.filter(id__in=chunk).count() for chunk in batched(self.scene_ids))

    def chunks(self, size: int = SCENE_BATCH) -> Iterator[list[SceneSnapshot]]:
        if self.scene_ids is None:
            yield from iter_scene_chunks(self._filtered(), size)
            return
        queryset = self._filtered()
        for ids in batched(self.scene_ids, size):
            if self.filters:
                kept = set(queryset.filter(id__in=ids).values_list("id", flat=True))
                ids = [scene_id for scene_id in ids if scene_id in kept]
            if ids:
                yield load_snapshots(ids)

    def describe(self) -> dict[str, Any]:
        """For the plan's metadata."""
        return {
            "scene_ids": len(self.scene_ids) if self.scene_ids is not None else None,
            "filters": self.filters.as_dict() if self.filters else None,
        }
