"""Analysis plans: proposed changes to scenes that a person reviews before they are applied.

Plan states: ``draft`` (just generated) -> ``reviewing`` (a change was accepted, rejected or
edited) -> ``applying`` (an apply job runs) -> ``applied`` (every accepted change landed);
``cancelled`` from any state but ``applied``. A failed or partial apply returns the plan to
``reviewing`` with the failures visible.

Change states: ``pending`` -> ``accepted`` | ``rejected`` (and back, while not applied);
``accepted`` -> ``applied`` | ``failed`` by apply; a ``failed`` change can be accepted again.
"""


from django.conf import settings
from django.db import models


class PlanStatus(models.TextChoices):
    DRAFT = "draft"
    REVIEWING = "reviewing"
    APPLYING = "applying"
    APPLIED = "applied"
    CANCELLED = "cancelled"


class ChangeField(models.TextChoices):
    STUDIO = "studio"
    PERFORMERS = "performers"
    TAGS = "tags"
    DETAILS = "details"
    TITLE = "title"
    DATE = "date"
    CODE = "code"
    URLS = "urls"
    RATING = "rating"
    ORGANIZED = "organized"
    STASH_IDS = "stash_ids"


class ChangeAction(models.TextChoices):
    ADD = "add"
    REMOVE = "remove"
    SET = "set"


class ChangeStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    APPLIED = "applied"
    FAILED = "failed"


class ChangeSource(models.TextChoices):
    PATH = "path"
    AI = "ai"
    STASHBOX = "stashbox"  # a stash-box match, through Stash
    USER = "user"
    REVERT = "revert"  # undoes an applied change (analysis.revert)
    ORGANIZE = "organize"  # the set_organized option, once a scene's other changes landed


# Plans whose pending and accepted changes may still be applied.
OPEN_PLAN_STATUSES = (PlanStatus.DRAFT, PlanStatus.REVIEWING, PlanStatus.APPLYING)


class AnalysisPlan(models.Model):
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=PlanStatus.choices, default=PlanStatus.DRAFT, db_index=True
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name


class PlanChange(models.Model):
    plan = models.ForeignKey(AnalysisPlan, on_delete=models.CASCADE, related_name="changes")
    # No database constraint: applied history stays readable after sync removes a scene
    # that Stash deleted (sync deletes the scene's unapplied changes itself).
    scene = models.ForeignKey(
        "scenes.Scene", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    scene_title = models.TextField(blank=True)
    field = models.CharField(max_length=20, choices=ChangeField.choices)
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    current_value = models.JSONField(null=True, blank=True)
    proposed_value = models.JSONField(null=True)
    confidence = models.FloatField()
    source = models.CharField(max_length=10, choices=ChangeSource.choices)
    reason = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=ChangeStatus.choices, default=ChangeStatus.PENDING
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Who set the status last (accepted or rejected it) and who started the apply job.
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    # What a revert needs, recorded by apply: the field as Stash held it just before the
    # write (same shape as ``current_value``) and the entities apply created for it.
    value_before_apply = models.JSONField(null=True, blank=True)
    created_entities = models.JSONField(default=list, blank=True)
    # On a revert plan's change: the applied change it undoes, and why it must not be
    # reverted blindly (Stash no longer holds what the apply wrote); empty: no conflict.
    reverts = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="reverted_by")
    conflict = models.TextField(blank=True)

    class Meta:
        ordering = ["plan_id", "scene_id", "id"]
        indexes = [
            models.Index(fields=["plan", "status"]),
            models.Index(fields=["plan", "scene"]),
            models.Index(fields=["scene", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(confidence__gte=0, confidence__lte=1),
                name="plan_change_confidence_0_1",
            ),
        ]

    def __str__(self):
        return f"{self.field} {self.action} on scene {self.scene_id}"


class AIAnswerCache(models.Model):
    """The last validated AI answer per scene, so re-analysing an unchanged scene is free.

    ``request_key`` digests everything the answer depends on (scene ``stash_updated_at``,
    model, prompt version, enabled detectors, the prompt itself with its candidate list); a
    run whose key differs asks again and replaces the row, so the table holds at most one
    row per scene.
    """

    scene_id = models.CharField(max_length=32, unique=True)
    request_key = models.CharField(max_length=64)
    model = models.CharField(max_length=255)
    answer = models.JSONField()
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"AI answer for scene {self.scene_id} ({self.model})"


class SceneAnalysis(models.Model):
    """What the last analysis of a scene read, so ``only=changed`` skips scenes whose
    analysis would read the same again (``analysis.fingerprints``)."""

    scene = models.OneToOneField("scenes.Scene", primary_key=True, on_delete=models.CASCADE,
                                 related_name="+")
    analyzed_at = models.DateTimeField()
    # The scene's fields analysis reads, with everything in ``settings_fingerprint``.
    fingerprint = models.CharField(max_length=64)
    # The options, the detector version and the AI model the analysis ran with.
    settings_fingerprint = models.CharField(max_length=64)
    # When the fingerprint was last found current: a sync that rewrote the scene after this
    # makes it a candidate for ``changed`` again.
    checked_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "scene analyses"

    def __str__(self):
        return f"Analysis of scene {self.scene_id} at {self.analyzed_at:%Y-%m-%d %H:%M}"


class Rejection(models.Model):
    """A value a person rejected for a scene's field and action: later analyses do not
    propose it again unless asked to (``analysis.rejections``). One row per value: a list
    change's rejection keeps one row per item it named."""

    # No database constraint, like PlanChange; sync deletes a removed scene's rejections.
    scene = models.ForeignKey(
        "scenes.Scene", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    field = models.CharField(max_length=20, choices=ChangeField.choices)
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    # In the shape of the change's proposed value: the set value, or a list of the one item.
    value = models.JSONField(null=True)
    value_key = models.CharField(max_length=64)  # SceneField.proposal_key of the value
    # The change whose rejection recorded it (its plan says where), and who rejected it.
    change = models.ForeignKey(PlanChange, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="rejections")
    rejected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["scene", "field", "action", "value_key"],
                                    name="rejection_one_per_value"),
        ]

    def __str__(self):
        return f"{self.field} {self.action} rejected on scene {self.scene_id}"


class AIBudget(models.Model):
    """The AI budget of one analysis run, shared by every chunk of it on every worker
    (``analysis.budget``): what may be spent, what was spent, and what requests in flight
    have reserved. Only conditional UPDATEs change it, so it holds across processes."""

    plan = models.OneToOneField(AnalysisPlan, primary_key=True, on_delete=models.CASCADE,
                                related_name="ai_budget")
    limit_usd = models.FloatField()
    spent_usd = models.FloatField(default=0)
    reserved_usd = models.FloatField(default=0)
    # Set once a request did not fit: every chunk stops sending.
    reached = models.BooleanField(default=False)

    def __str__(self):
        return f"AI budget of plan {self.plan_id}: ${self.spent_usd:.4f} of ${self.limit_usd:.4f}"


# The plan's counts and scene list below are written only by database triggers on
# PlanChange (migration 0010), in the statement that inserts, updates or deletes the
# changes, whichever code runs it: they cannot drift from the changes, and reading them
# costs one row (counts) or one page of an index (scenes) however large the plan is.
# The triggers name each ChangeStatus: a new status needs a migration that adds it.


class PlanCounts(models.Model):
    """How many scenes and changes a plan has, and its changes per status. No row: none."""

    plan = models.OneToOneField(AnalysisPlan, primary_key=True, on_delete=models.CASCADE,
                                related_name="counts")
    scenes = models.IntegerField(default=0)
    changes = models.IntegerField(default=0)
    pending = models.IntegerField(default=0)
    accepted = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    applied = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)

    class Meta:
        verbose_name_plural = "plan counts"

    def __str__(self):
        return f"Plan {self.plan_id}: {self.changes} changes over {self.scenes} scenes"


class PlanScene(models.Model):
    """A scene that has changes in a plan, and how many: the plan detail pages through
    these in ``scene_number`` order instead of through the distinct scenes of the changes."""

    plan = models.ForeignKey(AnalysisPlan, on_delete=models.CASCADE, related_name="+")
    scene_id = models.CharField(max_length=32)
    # Stash ids are integers kept as text: the scene's id as a number, the order of pages.
    scene_number = models.BigIntegerField()
    changes = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "scene_id"], name="plan_scene_once"),
        ]
        indexes = [models.Index(fields=["plan", "scene_number", "scene_id"],
                                name="plan_scene_order")]

    def __str__(self):
        return f"Scene {self.scene_id} in plan {self.plan_id}: {self.changes} changes"
