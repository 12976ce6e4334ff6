"""Stash tells StashHog what changed: hooks forwarded by the plugin in contrib/stash-plugin.

A hook names scenes; they are remembered (``HookedScene``) and one pending "stash_hook" job,
held back ``HOOK_SETTLE_SECONDS``, resyncs every scene remembered by the time it runs. A
burst of hooks (a library scan fires one per new file) thus becomes a few jobs, and a hook
that arrives while a job runs starts the next one, so no scene is left behind. A scene
Stash destroyed is removed locally. With the setting ``hook_analyze``, the new or changed
scenes are then analysed (``only=changed``: StashHog's own applies come back as hooks, and
a scene that already holds what was applied proposes nothing more, so there is no cycle).
"""

import logging

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analysis.generate import ANALYSIS_JOB, analysis_parameters
from analysis.options import AnalysisOptions
from analysis.selection import SceneSelection
from automation.models import HookedScene
from jobs.models import Job, JobStatus
from jobs.runner import Progress, start_job
from scenes.models import Scene
from scenes.sync import client_from_settings, refresh_scenes
from settings_app import get_setting
from stashhog.api.validation import NoUnknownKeysMixin

logger = logging.getLogger("stashhog.automation")

HOOK_JOB = "stash_hook"
HOOK_SETTLE_SECONDS = 5.0  # how long a hook job waits for more hooks before it runs
REFRESH_BATCH = 500  # scenes re-read from Stash per request
SCENE_HOOK_PREFIX = "Scene."


@extend_schema_field({"oneOf": [{"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                               {"type": "string", "maxLength": 32}]})
class StashIdField(serializers.CharField):
    """An object id as Stash sends it in a hook (a number), or as a string."""

    def __init__(self, **kwargs):
        super().__init__(max_length=32, **kwargs)


class HookContextSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """Stash's own ``hookContext`` (``input`` and ``inputFields`` are accepted, not used)."""

    type = serializers.CharField()
    id = StashIdField()
    input = serializers.JSONField(required=False, allow_null=True)
    inputFields = serializers.ListField(child=serializers.CharField(),  # noqa: N815
                                        required=False, allow_null=True)


class StashHookSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """Either ``hookContext`` (one hook as Stash gives it) or ``scene_ids`` with a ``type``."""

    hookContext = HookContextSerializer(required=False)  # noqa: N815
    scene_ids = serializers.ListField(child=serializers.CharField(), required=False,
                                      max_length=10_000)
    type = serializers.CharField(required=False, help_text="With scene_ids: the hook type.")

    def validate(self, attrs):
        if ("hookContext" in attrs) == ("scene_ids" in attrs):
            raise serializers.ValidationError("Send hookContext or scene_ids (with type).")
        if "scene_ids" in attrs and "type" not in attrs:
            raise serializers.ValidationError({"type": ["Required with scene_ids."]})
        return attrs


class HookAcceptedSerializer(serializers.Serializer):
    scenes = serializers.IntegerField(help_text="Scenes taken for a resync (0: not a scene hook).")
    job_id = serializers.UUIDField(allow_null=True,
                                   help_text="The hook job that will resync them.")


def scenes_of(hook: dict) -> list[str]:
    """The scene ids a validated hook names; none for hooks about other objects."""
    if "hookContext" in hook:
        hook_type, ids = hook["hookContext"]["type"], [hook["hookContext"]["id"]]
    else:
        hook_type, ids = hook["type"], hook["scene_ids"]
    return sorted(set(ids)) if hook_type.startswith(SCENE_HOOK_PREFIX) else []


def receive(scene_ids: list[str]) -> Job | None:
    """Remember the scenes and make sure a pending hook job will resync them."""
    if not scene_ids:
        return None
    with transaction.atomic():
        now = timezone.now()
        HookedScene.objects.bulk_create(
            [HookedScene(scene_id=scene_id, received_at=now) for scene_id in scene_ids],
            update_conflicts=True, unique_fields=["scene_id"], update_fields=["received_at"])
    # A pending job has not taken any scene yet: it will take these too. Two requests may
    # both start one; the second then finds little or nothing to do.
    pending = Job.objects.filter(type=HOOK_JOB, status=JobStatus.PENDING).first()
    return pending or start_job(HOOK_JOB, {}, delay_seconds=HOOK_SETTLE_SECONDS)


def _take(limit: int) -> list[str]:
    with transaction.atomic():
        ids = list(HookedScene.objects.order_by("received_at", "scene_id")
                   .values_list("scene_id", flat=True)[:limit])
        HookedScene.objects.filter(scene_id__in=ids).delete()
    return ids


def stash_hook_job(progress: Progress, parameters: dict) -> dict:
    """Resync every remembered scene, then (``hook_analyze``) queue their analysis.

    Result: ``resynced``, ``removed`` (destroyed in Stash) and ``analysis_job_id``."""
    resynced, removed, present = 0, 0, []
    with client_from_settings() as client:
        while ids := _take(REFRESH_BATCH):
            outcome = refresh_scenes(client, ids)
            resynced += outcome["updated"]
            removed += len(outcome["removed"])
            present += [scene_id for scene_id in ids if scene_id not in outcome["removed"]]
            progress.partial_result = {"resynced": resynced, "removed": removed}
            progress.update(resynced + removed, None, f"Resynced {resynced} scenes")
            progress.check_cancelled()
    return {"resynced": resynced, "removed": removed,
            "analysis_job_id": _analyse(present) if get_setting("hook_analyze") else None}


def _analyse(scene_ids: list[str]) -> str | None:
    """Queue the analysis of the new or changed ones among ``scene_ids``, if any."""
    existing = list(Scene.objects.filter(id__in=scene_ids).values_list("id", flat=True))
    if not existing:
        return None
    parameters = analysis_parameters(
        SceneSelection.of(existing, only="changed"), AnalysisOptions.resolve(),
        plan_name=f"Stash hooks {timezone.now():%Y-%m-%d %H:%M}")
    if not SceneSelection.from_parameters(parameters).exact_count():
        return None
    return str(start_job(ANALYSIS_JOB, parameters).id)
