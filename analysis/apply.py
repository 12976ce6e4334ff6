"""Apply: write a plan's accepted changes to Stash (the only place StashHog writes to Stash).

It must never lose, duplicate or clobber data, even when a worker dies halfway or a person
edited the scene in Stash meanwhile:
- tags and performers are added and removed with ``bulkSceneUpdate`` in ADD/REMOVE mode,
  never by writing a whole list, so edits made in Stash meanwhile survive;
- a set (studio, details) whose value in Stash is no longer the analysed one fails instead
  of overwriting it, and one that Stash already holds is recorded as applied without a
  request: that is what makes a rerun after a crash converge;
- a missing entity is looked up by name and alias before it is created, and its id is
  committed at once, so a rerun never creates it twice;
- each change's outcome is committed as soon as Stash confirms it, with what a revert needs:
  the field as Stash held it just before (``value_before_apply``), the entities created for
  it, and the user who started the job (``applied_by``).
- with the plan's ``set_organized`` option, a scene whose changes in the plan have all
  landed (applied or rejected; none pending, accepted or failed) gets one more change,
  ``organized`` set true, applied with the rest and undone like any other;
- two applies never write the same scene at once (even two plans, on two machines): each
  chunk's scenes are locked from its read to its last write (``Progress.holding``).

The work goes by chunks of scenes: one batched read of the chunk, then one request per group
of scenes sharing a write (field, mode, entity or value). A group Stash rejects is retried
scene by scene, so only the changes at fault fail. Progress counts scenes; a cancel stops
between chunks. Failed changes stay failed until a person accepts them again.
"""

import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from analysis.fields import ENTITY_FIELDS, ORGANIZED, SCENE_FIELDS
from analysis.models import (
    AnalysisPlan,
    ChangeAction,
    ChangeSource,
    ChangeStatus,
    PlanChange,
    PlanStatus,
)
from analysis.plan_queries import get_plan
from analysis.plan_status import refresh_plan_status
from jobs.models import Job
from jobs.runner import Progress, ensure_not_active, start_job
from scenes import store
from scenes.batching import SCENE_BATCH, batched
from scenes.entities import EntityKind
from scenes.stash import StashClient, StashQueryError
from scenes.sync import client_from_settings, refresh_scenes
from stashhog.api.exceptions import Conflict

logger = logging.getLogger("stashhog.apply")

APPLY_JOB = "apply"
CHANGED_IN_STASH = "changed in Stash since analysis"
SCENE_GONE = "scene no longer exists in Stash"
SAME_FIELD_TWICE = "another accepted change sets the same field of this scene"
WAITING_FOR_SCENES = "Waiting for another apply that writes the same scenes"



class Write(NamedTuple):
    """One request's worth of change, shared by every scene in its group: the field, the
    mode (ADD, REMOVE, SET) and the entity id or value."""

    field: str
    mode: str
    value: Any


def apply_key(parameters: dict[str, Any]) -> str:
    return f"apply:plan:{parameters['plan_id']}"


def _accepted(plan_id: int, scene_ids: list[str] | None) -> QuerySet[PlanChange]:
    changes = PlanChange.objects.filter(plan_id=plan_id, status=ChangeStatus.ACCEPTED)
    if scene_ids is not None:
        changes = changes.filter(scene_id__in=scene_ids)
    return changes


def request_apply(plan_id: int, scene_ids: list[str] | None, *, background: bool,
                  user: Any = None, context: dict[str, Any] | None = None) -> Job:
    """Start applying the plan's accepted changes (only those of ``scene_ids`` if given);
    ``user`` started it and is recorded on the changes it applies.

    NotFound for an unknown plan; Conflict when it is cancelled, already being applied or
    has nothing accepted. ``background=False`` runs the job in this process and returns it
    finished (its ``result`` is ``apply_job``'s). ``context`` (e.g. ``schedule_id``) is
    added to the job's parameters.
    """
    plan = get_plan(plan_id)
    if plan.status == PlanStatus.CANCELLED:
        raise Conflict("The plan is cancelled")
    ids = None if scene_ids is None else [str(i) for i in scene_ids]
    parameters = {"plan_id": plan.pk, "scene_ids": ids, **(context or {})}
    ensure_not_active(APPLY_JOB, parameters)
    if not _accepted(plan.pk, ids).exists():
        scope = " for these scenes" if scene_ids is not None else ""
        raise Conflict(f"The plan has no accepted changes to apply{scope}")
    return start_job(APPLY_JOB, parameters, inline=not background, created_by=user)


def apply_job(progress: Progress, parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters: ``plan_id``, ``scene_ids`` (None: every scene).

    Result: ``applied`` (changes Stash confirmed), ``skipped`` (changes Stash already held,
    recorded as applied without a request), ``failed``, ``remaining`` (accepted changes not
    reached, after a cancel or failure), ``scenes``, ``requests`` (sent to Stash),
    ``created`` (entities created in Stash, per kind), ``duration_seconds``, ``plan_status``.
    The plan is ``applying`` while the job runs; its derived status is restored at the end,
    whatever the outcome.
    """
    plan = get_plan(parameters["plan_id"])
    marked = AnalysisPlan.objects.filter(pk=plan.pk).exclude(status=PlanStatus.CANCELLED)
    if not marked.update(status=PlanStatus.APPLYING):
        raise Conflict("The plan is cancelled")
    try:
        with client_from_settings() as client:
            run = ApplyRun(plan.pk, client, progress, parameters.get("scene_ids"),
                           applied_by_id=progress.job.created_by_id)
            run.run()
    finally:
        plan.refresh_from_db(fields=["status", "applied_at"])
        refresh_plan_status(plan)
    return {**run.result(), "plan_status": plan.status}


def restore_plan_status(job: Job, **kwargs: Any) -> None:
    """An apply job failed from outside its body (its worker was lost) never reached the
    ``finally`` above: do not leave its plan ``applying``."""
    if job.type != APPLY_JOB:
        return
    plan = AnalysisPlan.objects.filter(pk=job.parameters.get("plan_id")).first()
    if plan is not None and plan.status == PlanStatus.APPLYING:
        refresh_plan_status(plan)


def _entity_items(change: PlanChange) -> list[dict[str, Any]]:
    """The ``{"id", "name"}`` items a change names (its proposed value holds them)."""
    return SCENE_FIELDS[change.field].entity_items(change.proposed_value)


def _best_match(found: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The exact name before an alias match; a performer without disambiguation first."""
    folded = name.casefold()
    return min(
        found,
        key=lambda item: (item["name"].casefold() != folded, bool(item.get("disambiguation"))),
        default=None,
    )


def writes_needed(change: PlanChange, scene: dict[str, Any]) -> list[Write] | str:
    """The writes ``change`` still needs, given the scene as Stash has it now; an empty
    list when Stash already holds the change, or the reason it must not be applied."""
    field = SCENE_FIELDS[change.field]
    if change.action == ChangeAction.SET:
        held = field.held(scene)
        proposed = field.set_value(change.proposed_value)
        if held == proposed:
            return []
        if held != field.set_value(change.current_value):
            return CHANGED_IN_STASH
        return [Write(change.field, "SET", proposed)]
    adding = change.action == ChangeAction.ADD
    present = field.held_keys(scene)
    mode = "ADD" if adding else "REMOVE"
    return [Write(change.field, mode, key) for key in field.write_keys(change.proposed_value)
            if (key in present) != adding]


class ApplyRun:
    """One apply of one plan's accepted changes (see the module docstring)."""

    def __init__(self, plan_id: int, client: StashClient, progress: Progress,
                 scene_ids: list[str] | None = None,
                 applied_by_id: int | None = None) -> None:
        self.client = client
        self.applied_by_id = applied_by_id
        self.progress = progress
        self.plan_id = plan_id
        options = AnalysisPlan.objects.values_list("metadata", flat=True).get(pk=plan_id)
        self.set_organized = bool((options or {}).get("options", {}).get("set_organized"))
        self.changes = list(_accepted(plan_id, scene_ids))
        self.by_scene: dict[str, list[PlanChange]] = {}
        for change in self.changes:
            self.by_scene.setdefault(change.scene_id, []).append(change)
        self.counts = Counter(applied=0, skipped=0, failed=0)
        self.created: dict[str, list[dict[str, Any]]] = {
            field.entity_kind.plural: [] for field in ENTITY_FIELDS
        }
        self.created_ids: set[tuple[str, str]] = set()  # (kind plural, Stash id)
        self.waiting: dict[int, set[Write]] = {}  # change id -> writes not yet confirmed
        self.requests_before = client.requests_sent
        self.started = time.monotonic()

    def result(self) -> dict[str, Any]:
        return {
            **self.counts,
            "remaining": len(self.changes) - sum(self.counts.values()),
            "scenes": len(self.by_scene),
            "requests": self.client.requests_sent - self.requests_before,
            "created": self.created,
            "duration_seconds": round(time.monotonic() - self.started, 3),
        }

    def run(self) -> None:
        """Apply everything; the job's partial result is kept for a cancel or a failure."""
        try:
            self._run()
        finally:
            self.progress.partial_result = self.result()
        logger.info("apply finished: %s", self.result())

    def _run(self) -> None:
        total = len(self.by_scene)
        self.progress.update(0, total, "Looking up new tags, performers and studios", force=True)
        self.resolve_entities()
        scene_ids = list(self.by_scene)
        done = 0
        for chunk in batched(scene_ids, SCENE_BATCH):
            self.progress.check_cancelled()
            # A set is check-then-write: another apply must not write these scenes between
            # this chunk's read and its writes, on any worker.
            with self.progress.holding([f"scene:{scene_id}" for scene_id in chunk],
                                       WAITING_FOR_SCENES):
                self.apply_chunk(chunk)
            done += len(chunk)
            self.progress.update(done, total, f"Applied changes to {done} of {total} scenes")

    # -- entities ------------------------------------------------------------------------

    def resolve_entities(self) -> None:
        """Give every named item without an id the id of the Stash entity of that name,
        creating the entity only when Stash has none (removals never create)."""
        wanted: dict[tuple[EntityKind, str], dict[int, PlanChange]] = {}
        names: dict[tuple[EntityKind, str], str] = {}
        # A new entity found on a stash-box is created linked to it (one id per endpoint).
        links: dict[tuple[EntityKind, str], dict[str, str]] = {}
        creatable: set[tuple[EntityKind, str]] = set()
        for change in self.changes:
            for item in _entity_items(change):
                if item.get("id") is None and item.get("name"):
                    key = (SCENE_FIELDS[change.field].entity_kind, item["name"].casefold())
                    wanted.setdefault(key, {})[change.pk] = change
                    names.setdefault(key, item["name"])
                    for link in item.get("stash_ids") or ():
                        links.setdefault(key, {}).setdefault(link["endpoint"], link["stash_id"])
                    if change.action != ChangeAction.REMOVE:
                        creatable.add(key)
        for key, changes in wanted.items():
            kind, folded = key
            stash_ids = [{"endpoint": endpoint, "stash_id": stash_id}
                         for endpoint, stash_id in links.get(key, {}).items()]
            try:
                entity = self.find_or_create(kind, names[key], create=key in creatable,
                                             stash_ids=stash_ids or None)
            except StashQueryError as exc:
                self.settle_failed(changes.values(), exc.message)
                continue
            if entity is not None:
                self.record_entity(kind, entity, folded, list(changes.values()))

    def find_or_create(self, kind: EntityKind, name: str, *, create: bool,
                       stash_ids: list[dict[str, str]] | None = None) -> dict[str, Any] | None:
        found = _best_match(kind.find_by_name(self.client, name), name)
        if found is not None or not create:
            return found
        try:
            entity = kind.create(self.client, name, stash_ids)
        except StashQueryError:
            # Someone created it meanwhile (another apply, a person in Stash): use theirs.
            found = _best_match(kind.find_by_name(self.client, name), name)
            if found is None:
                raise
            return found
        self.created[kind.plural].append({"id": entity["id"], "name": entity["name"]})
        self.created_ids.add((kind.plural, entity["id"]))
        logger.info("created %s %s in Stash", kind.singular, entity["id"])
        return entity

    @staticmethod
    def record_entity(kind: EntityKind, entity: dict[str, Any], folded: str,
                      changes: list[PlanChange]) -> None:
        """Keep the entity locally and its id in the changes, committed before any use."""
        for change in changes:
            for item in _entity_items(change):
                if item.get("id") is None and (item.get("name") or "").casefold() == folded:
                    item["id"] = entity["id"]
        with transaction.atomic():
            store.upsert_entities(kind, [entity], timezone.now())
            PlanChange.objects.bulk_update(changes, ["proposed_value"])

    # -- scenes --------------------------------------------------------------------------

    def apply_chunk(self, scene_ids: Sequence[str]) -> None:
        in_stash = self.client.get_scenes(scene_ids)
        groups: dict[Write, list[tuple[str, PlanChange]]] = {}
        held, failed = [], []
        for scene_id in scene_ids:
            scene = in_stash[scene_id]
            fields_set: set[str] = set()
            for change in self.by_scene[scene_id]:
                if change.status != ChangeStatus.ACCEPTED:
                    continue  # failed while its entity was resolved
                if scene is None:
                    failed.append((change, SCENE_GONE))
                    continue
                change.value_before_apply = SCENE_FIELDS[change.field].stash_value(scene)
                if change.action == ChangeAction.SET:
                    if change.field in fields_set:
                        failed.append((change, SAME_FIELD_TWICE))
                        continue
                    fields_set.add(change.field)
                writes = writes_needed(change, scene)
                if isinstance(writes, str):
                    failed.append((change, writes))
                elif not writes:
                    held.append(change)
                else:
                    self.waiting[change.pk] = set(writes)
                    for write in writes:
                        groups.setdefault(write, []).append((scene_id, change))
        self.settle_held(held)
        for error, changes in _by_error(failed).items():
            self.settle_failed(changes, error)
        for write, members in groups.items():
            self.send(write, members)
        if self.set_organized:
            self.organize([scene_id for scene_id in scene_ids if in_stash[scene_id] is not None],
                          in_stash)
        touched = [
            scene_id for scene_id in scene_ids
            if in_stash[scene_id] is not None
            and any(c.status == ChangeStatus.APPLIED for c in self.by_scene[scene_id])
        ]
        if touched:
            refresh_scenes(self.client, touched)

    def organize(self, scene_ids: list[str], in_stash: dict[str, Any]) -> None:
        """``set_organized``: an ``organized`` change, applied now, for each scene whose
        changes in the plan have all landed and that Stash does not hold organized (a scene
        with an organized change of its own, in any status, is left to that one)."""
        statuses: dict[str, set[str]] = {}
        titles: dict[str, str] = {}
        rows = PlanChange.objects.filter(plan_id=self.plan_id, scene_id__in=scene_ids)
        for scene_id, status, field, title in rows.values_list(
                "scene_id", "status", "field", "scene_title"):
            statuses.setdefault(scene_id, set()).add(
                "own" if field == ORGANIZED.name else status)
            titles[scene_id] = title
        ready = [
            scene_id for scene_id in scene_ids
            if ChangeStatus.APPLIED in statuses.get(scene_id, ())
            and statuses[scene_id] <= {ChangeStatus.APPLIED, ChangeStatus.REJECTED}
            and not ORGANIZED.held(in_stash[scene_id])
        ]
        if not ready:
            return
        changes = PlanChange.objects.bulk_create([
            PlanChange(plan_id=self.plan_id, scene_id=scene_id, scene_title=titles[scene_id],
                       field=ORGANIZED.name, action=ChangeAction.SET, current_value=False,
                       proposed_value=True, value_before_apply=False, confidence=1.0,
                       source=ChangeSource.ORGANIZE, status=ChangeStatus.ACCEPTED,
                       reason="set_organized: every other change of the scene in this plan "
                       "was applied or rejected")
            for scene_id in ready
        ])
        write = Write(ORGANIZED.name, "SET", True)
        for change in changes:
            self.changes.append(change)
            self.by_scene[change.scene_id].append(change)
            self.waiting[change.pk] = {write}
        self.send(write, [(change.scene_id, change) for change in changes])

    def send(self, write: Write, members: list[tuple[str, PlanChange]]) -> None:
        """One request for the group; if Stash rejects it, one per scene to find the culprit.

        Other errors (Stash unreachable, auth) end the job: the changes not yet confirmed
        stay accepted for the next run.
        """
        scene_ids = [scene_id for scene_id, _change in members]
        try:
            SCENE_FIELDS[write.field].write(self.client, scene_ids, write.mode, write.value)
        except StashQueryError as exc:
            if len(members) == 1:
                self.settle_failed([members[0][1]], exc.message)
            else:
                for member in members:
                    self.send(write, [member])
            return
        self.settle_confirmed(write, [change for _scene_id, change in members])

    # -- outcomes (short transactions, each committed before the next request) -----------

    def settle_confirmed(self, write: Write, changes: list[PlanChange]) -> None:
        done = []
        for change in changes:
            waiting = self.waiting[change.pk]
            waiting.discard(write)
            if not waiting and change.status == ChangeStatus.ACCEPTED:
                done.append(change)
        self._save_applied(done)
        self.counts["applied"] += len(done)

    def settle_held(self, changes: list[PlanChange]) -> None:
        self._save_applied(changes)
        self.counts["skipped"] += len(changes)

    def settle_failed(self, changes: Iterable[PlanChange], error: str) -> None:
        changes = [change for change in changes if change.status == ChangeStatus.ACCEPTED]
        self._save_failed(changes, error)
        self.counts["failed"] += len(changes)

    def _save_applied(self, changes: list[PlanChange]) -> None:
        """Applied, with what a revert needs (the value before was set by apply_chunk)."""
        if not changes:
            return
        applied_at = timezone.now()
        for change in changes:
            change.status, change.applied_at, change.error = ChangeStatus.APPLIED, applied_at, ""
            change.applied_by_id = self.applied_by_id
            kind = SCENE_FIELDS[change.field].kind
            change.created_entities = [
                item for item in _entity_items(change)
                if kind is not None and (kind.plural, item.get("id")) in self.created_ids
            ]
        with transaction.atomic():
            PlanChange.objects.bulk_update(changes, [
                "status", "applied_at", "error", "applied_by", "value_before_apply",
                "created_entities",
            ])

    @staticmethod
    def _save_failed(changes: list[PlanChange], error: str) -> None:
        if not changes:
            return
        for change in changes:
            change.status, change.error = ChangeStatus.FAILED, error
        with transaction.atomic():
            PlanChange.objects.filter(pk__in=[change.pk for change in changes]).update(
                status=ChangeStatus.FAILED, applied_at=None, error=error
            )


def _by_error(failed: list[tuple[PlanChange, str]]) -> dict[str, list[PlanChange]]:
    grouped: dict[str, list[PlanChange]] = {}
    for change, error in failed:
        grouped.setdefault(error, []).append(change)
    return grouped
