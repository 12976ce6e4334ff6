"""The scenes an analysis run covers: explicit ids, the scene list's filters, both, or all;
narrowed by ``only`` (``all``, ``unanalyzed``, ``changed``: see ``analysis.fingerprints``)."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from analysis.fingerprints import drop_unchanged, narrow, settings_fingerprint
from analysis.library import SceneSnapshot, iter_scene_chunks, load_snapshots
from analysis.options import AnalysisOptions
from scenes.batching import SCENE_BATCH, batched
from scenes.models import Scene
from scenes.selection import SceneFilters, filter_scenes
from stashhog.api.exceptions import InvalidInput

UNKNOWN_IDS_LISTED = 50


@dataclass(frozen=True)
class SceneSelection:
    scene_ids: tuple[str, ...] | None = None  # sorted, without repeats; None: no id list
    filters: SceneFilters | None = None
    only: str = "all"
    # The settings fingerprint ``changed`` is judged against (that of the job's options).
    settings: str = ""

    @classmethod
    def of(cls, scene_ids: Iterable[object] | None = None,
           filters: SceneFilters | None = None, only: str = "all") -> "SceneSelection":
        ids = tuple(sorted(set(map(str, scene_ids)))) if scene_ids is not None else None
        return cls(ids, filters if filters and filters.as_dict() else None, only)

    def as_parameters(self) -> dict[str, Any]:
        """JSON for the job's parameters (``from_parameters`` reads it back)."""
        return {
            "scene_ids": list(self.scene_ids) if self.scene_ids is not None else None,
            "filters": self.filters.as_dict() if self.filters else None,
            "only": self.only,
        }

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> "SceneSelection":
        """The selection of an analysis job, judged against the job's options."""
        filters = parameters.get("filters")
        selection = cls.of(parameters.get("scene_ids"),
                           SceneFilters.from_values(filters) if filters else None,
                           parameters.get("only", "all"))
        options = AnalysisOptions.from_dict(parameters["options"])
        return cls(selection.scene_ids, selection.filters, selection.only,
                   settings_fingerprint(options))

    def _filtered(self) -> QuerySet[Scene]:
        scenes = filter_scenes(self.filters) if self.filters else Scene.objects.all()
        return narrow(scenes, self.only, self.settings)

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
        """How many scenes are selected (for ``changed``: at most; see ``chunks``)."""
        if self.scene_ids is None:
            return self._filtered().count()
        if not self.filters and self.only == "all":
            return len(self.scene_ids)
        queryset = self._filtered()
        return sum(queryset.filter(id__in=chunk).count() for chunk in batched(self.scene_ids))

    def exact_count(self) -> int:
        """How many scenes are selected, exactly: for ``changed`` this reads the candidates
        and marks those still current as checked (later selections skip them cheaply)."""
        if self.only != "changed":
            return self.count()
        return sum(len(chunk) for chunk in self.chunks())

    def chunks(self, size: int = SCENE_BATCH) -> Iterator[list[SceneSnapshot]]:
        """The selected scenes chunk by chunk; ``changed`` drops here the candidates whose
        fingerprint is still current (chunks may come out smaller, or be skipped)."""
        for chunk in self._candidate_chunks(size):
            if self.only == "changed":
                chunk = drop_unchanged(chunk, self.settings)
            if chunk:
                yield chunk

    def _candidate_chunks(self, size: int) -> Iterator[list[SceneSnapshot]]:
        if self.scene_ids is None:
            yield from iter_scene_chunks(self._filtered(), size)
            return
        queryset = self._filtered()
        for ids in batched(self.scene_ids, size):
            if self.filters or self.only != "all":
                kept = set(queryset.filter(id__in=ids).values_list("id", flat=True))
                ids = [scene_id for scene_id in ids if scene_id in kept]
            if ids:
                yield load_snapshots(ids)

    def describe(self) -> dict[str, Any]:
        """For the plan's metadata."""
        return {
            "scene_ids": len(self.scene_ids) if self.scene_ids is not None else None,
            "filters": self.filters.as_dict() if self.filters else None,
            "only": self.only,
        }
