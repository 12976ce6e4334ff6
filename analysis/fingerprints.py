"""Fingerprints of what an analysis read, for the ``only`` selection of analysis requests.

A scene's fingerprint covers the scene fields analysis reads and the settings fingerprint
(the options that change proposals, the detector version and the AI model). ``changed``
picks scenes without a record, analysed with other settings, or rewritten by sync since
their fingerprint was last checked; among those, a scene whose fingerprint is the same as
its record's is skipped, and the record is marked checked so it is not read again.
"""

import hashlib
import json

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from analysis.ai.prompts import PROMPT_VERSION
from analysis.library import SceneSnapshot
from analysis.models import ChangeSource, SceneAnalysis
from analysis.options import AnalysisOptions
from settings_app import get_setting

ONLY_CHOICES = ("all", "unanalyzed", "changed")
# Bump when the local detectors change what they propose for the same scene.
DETECTOR_VERSION = "1"
# The budget changes how far a run gets, set_organized what apply does: neither what a run
# proposes for a scene.
OPTIONS_NOT_FINGERPRINTED = ("max_cost_usd", "set_organized")


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def settings_fingerprint(options: AnalysisOptions) -> str:
    options_read = {name: value for name, value in options.as_dict().items()
                    if name not in OPTIONS_NOT_FINGERPRINTED}
    ai = [PROMPT_VERSION, get_setting("openai_model")] if options.uses(ChangeSource.AI) else None
    return _digest({"options": options_read, "detectors": DETECTOR_VERSION, "ai": ai})


def scene_fingerprint(scene: SceneSnapshot, settings: str) -> str:
    return _digest({"settings": settings, "title": scene.title, "path": scene.path,
                    "fields": scene.values})


def narrow(scenes: QuerySet, only: str, settings: str) -> QuerySet:
    """The scenes of ``scenes`` that ``only`` may select (``changed``: its candidates)."""
    records = SceneAnalysis.objects.filter(scene_id=OuterRef("pk"))
    if only == "unanalyzed":
        return scenes.filter(~Exists(records))
    if only == "changed":
        current = records.filter(settings_fingerprint=settings,
                                 checked_at__gte=OuterRef("last_synced"))
        return scenes.filter(~Exists(current))
    return scenes


def drop_unchanged(scenes: list[SceneSnapshot], settings: str) -> list[SceneSnapshot]:
    """``scenes`` less those whose fingerprint equals their record's (marked checked)."""
    recorded = dict(SceneAnalysis.objects.filter(
        scene_id__in=[scene.id for scene in scenes], settings_fingerprint=settings,
    ).values_list("scene_id", "fingerprint"))
    unchanged = {scene.id for scene in scenes
                 if recorded.get(scene.id) == scene_fingerprint(scene, settings)}
    if unchanged:
        SceneAnalysis.objects.filter(scene_id__in=unchanged).update(checked_at=timezone.now())
    return [scene for scene in scenes if scene.id not in unchanged]


def record_analysed(scenes: list[SceneSnapshot], settings: str, analysed_at) -> None:
    """Remember what these scenes' analysis read (call inside the chunk's transaction)."""
    SceneAnalysis.objects.bulk_create(
        [SceneAnalysis(scene_id=scene.id, analyzed_at=analysed_at, checked_at=analysed_at,
                       settings_fingerprint=settings,
                       fingerprint=scene_fingerprint(scene, settings))
         for scene in scenes],
        update_conflicts=True, unique_fields=["scene"],
        update_fields=["analyzed_at", "checked_at", "settings_fingerprint", "fingerprint"],
    )
