"""Read-side queries of plans: counts by aggregation and changes grouped by scene."""

from itertools import groupby

from django.db.models import BigIntegerField, Count, QuerySet
from django.db.models.functions import Cast

from analysis.models import AnalysisPlan
from stashhog.api.exceptions import NotFound

CHANGE_FIELDS = ("id", "scene_id", "scene_title", "field", "action", "current_value",
                 "proposed_value", "confidence", "source", "reason", "status", "error")


def get_plan(plan_id, *, for_update: bool = False) -> AnalysisPlan:
    """The plan, or NotFound (for an unknown or malformed id)."""
    plans = AnalysisPlan.objects.select_for_update() if for_update else AnalysisPlan.objects
    try:
        return plans.get(pk=int(plan_id))
    except (AnalysisPlan.DoesNotExist, ValueError, TypeError):
        raise NotFound("Plan not found") from None


def plans_with_counts() -> QuerySet:
    """Plans annotated with ``total_scenes`` and ``total_changes`` (one grouped query)."""
    return AnalysisPlan.objects.annotate(
        total_scenes=Count("changes__scene", distinct=True),
        total_changes=Count("changes"),
    )


def plan_scenes(plan: AnalysisPlan) -> list[dict]:
    """The plan's changes grouped by scene, scenes in id order (one query)."""
    rows = (
        plan.changes.order_by(Cast("scene_id", BigIntegerField()), "scene_id", "id")
        .values(*CHANGE_FIELDS)
    )
    scenes = []
    for scene_id, changes in groupby(rows.iterator(chunk_size=2000), key=lambda r: r["scene_id"]):
        changes = list(changes)
        scenes.append({"scene_id": scene_id, "scene_title": changes[0]["scene_title"],
                       "changes": changes})
    return scenes
