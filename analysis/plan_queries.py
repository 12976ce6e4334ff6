"""Read-side queries of plans: counts (kept by triggers, see PlanCounts), changes with their
scene's title and primary file path, and changes grouped by scene (all of them, or one page
of scenes)."""

import functools
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import PurePath
from typing import Any

from django.db.models import BigIntegerField, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast, Coalesce

from analysis.models import AnalysisPlan, ChangeStatus, PlanChange, PlanScene
from scenes.models import Scene, SceneFile
from stashhog.api.exceptions import NotFound

CHANGE_FIELDS = ("id", "plan_id", "scene_id", "scene_title", "field", "action",
                 "current_value", "proposed_value", "confidence", "source", "reason", "status",
                 "error", "conflict", "scene_path")
# The counts every plan carries: how far its review and apply went.
REVIEW_COUNTS = (ChangeStatus.PENDING, ChangeStatus.ACCEPTED, ChangeStatus.REJECTED,
                 ChangeStatus.APPLIED, ChangeStatus.FAILED)
# The annotation ``plans_with_counts`` puts each of those counts in (named once, here).
COUNT_ANNOTATIONS = {status: f"count_{status}" for status in REVIEW_COUNTS}


def get_plan(plan_id: int | str, *, for_update: bool = False,
             with_counts: bool = False) -> AnalysisPlan:
    """The plan (with the counts of ``plans_with_counts``), or NotFound (for an unknown or
    malformed id)."""
    plans = plans_with_counts() if with_counts else AnalysisPlan.objects.all()
    if for_update:
        plans = plans.select_for_update()
    try:
        return plans.get(pk=int(plan_id))
    except (AnalysisPlan.DoesNotExist, ValueError, TypeError):
        raise NotFound("Plan not found") from None


def plans_with_counts() -> QuerySet[AnalysisPlan]:
    """Plans annotated with ``total_scenes``, ``total_changes`` and ``count_<status>`` for
    each of REVIEW_COUNTS (in the same query: one row of PlanCounts per plan)."""
    return _plans_with_counts().all()


@functools.cache
def _plans_with_counts() -> QuerySet[AnalysisPlan]:
    # Built once, never evaluated itself, only copied (``.all()``).
    per_status = {name: Coalesce(F(f"counts__{status}"), 0)
                  for status, name in COUNT_ANNOTATIONS.items()}
    return AnalysisPlan.objects.annotate(
        total_scenes=Coalesce(F("counts__scenes"), 0),
        total_changes=Coalesce(F("counts__changes"), 0),
        **per_status,
    )


def review_counts(plan: AnalysisPlan) -> dict[str, int]:
    """``{pending, accepted, ...}`` of a plan from ``plans_with_counts``."""
    return {status.value: getattr(plan, name) for status, name in COUNT_ANNOTATIONS.items()}


def primary_path() -> Subquery:
    """The path of the change's scene's primary file (null when the scene is gone)."""
    files = SceneFile.objects.filter(scene_id=OuterRef("scene_id")).order_by("-primary", "id")
    return Subquery(files.values("path")[:1])


def scene_number() -> Cast:
    """Stash ids are integers kept as text: sort them as numbers."""
    return Cast("scene_id", BigIntegerField())


def change_rows(changes: QuerySet[PlanChange]) -> QuerySet[Any, dict[str, Any]]:
    """``changes`` as value rows (CHANGE_FIELDS) with ``scene_path``; one query, however
    many rows. ``display`` turns each row into what the API shows."""
    rows: QuerySet[Any, dict[str, Any]] = changes.annotate(
        scene_path=primary_path(), scene_number=scene_number()).values(*CHANGE_FIELDS)
    return rows


def display_title(title: str, path: str | None) -> str:
    """The scene's title, or its primary file's name when the title is empty."""
    return title or (PurePath(path).name if path else "")


def display(row: dict[str, Any]) -> dict[str, Any]:
    row["scene_title"] = display_title(row["scene_title"], row["scene_path"])
    return row


def change_row(change_id: int) -> dict[str, Any]:
    return display(change_rows(PlanChange.objects.filter(pk=change_id)).get())


def _grouped(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    scenes = []
    for scene_id, group in groupby(map(display, rows), key=lambda r: r["scene_id"]):
        changes = list(group)
        scenes.append({"scene_id": scene_id, "scene_title": changes[0]["scene_title"],
                       "scene_path": changes[0]["scene_path"], "changes": changes})
    return scenes


def plan_scenes(changes: QuerySet[PlanChange], page: int | None = None,
                per_page: int = 50, scene_ids: QuerySet[Any] | list[str] | None = None
                ) -> list[dict[str, Any]]:
    """``changes`` grouped by scene, scenes in id order: all of them (one query) or the
    ``page``-th ``per_page`` scenes (two queries) of ``scene_ids`` (ordered; default:
    those of ``changes``, which ``plan_scene_ids`` gives cheaper for a whole plan)."""
    if page is not None:
        if scene_ids is None:
            scene_ids = (changes.order_by(scene_number(), "scene_id")
                         .values_list("scene_id", flat=True).distinct())
        start = (page - 1) * per_page
        changes = changes.filter(scene_id__in=list(scene_ids[start:start + per_page]))
    rows = change_rows(changes).order_by("scene_number", "scene_id", "id")
    # A page is read at once; a whole plan in chunks (a server-side cursor on PostgreSQL,
    # which costs two more round trips).
    return _grouped(rows if page is not None else rows.iterator(chunk_size=2000))


def plan_scene_parts(plan: AnalysisPlan, size: int) -> Iterator[list[dict[str, Any]]]:
    """Every scene of the plan as ``plan_scenes`` gives them, ``size`` scenes at a time, each
    part read when it is asked for (keyset over PlanScene): a whole plan is never held."""
    after = Q()
    while True:
        keys = list(plan_scene_ids(plan.id).filter(after)
                    .values_list("scene_number", "scene_id")[:size])
        if not keys:
            return
        yield plan_scenes(plan.changes.all(), 1, size, [scene_id for _, scene_id in keys])
        number, scene_id = keys[-1]
        after = Q(scene_number__gt=number) | Q(scene_number=number, scene_id__gt=scene_id)


def plan_scene_ids(plan_id: int) -> QuerySet[PlanScene, str]:
    """The ids of the plan's scenes in ``plan_scenes``' order, from an index (PlanScene)."""
    return (PlanScene.objects.filter(plan_id=plan_id).order_by("scene_number", "scene_id")
            .values_list("scene_id", flat=True))


def scene_history(scene_id: str) -> QuerySet[PlanChange]:
    """The scene's applied changes with their plan and users; NotFound when the scene is
    neither in the library nor in any plan's history."""
    changes = PlanChange.objects.filter(scene_id=str(scene_id), status=ChangeStatus.APPLIED)
    if not changes.exists() and not Scene.objects.filter(pk=str(scene_id)).exists():
        raise NotFound("Scene not found")
    return changes.select_related("plan", "reviewed_by", "applied_by")
