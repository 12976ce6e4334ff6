"""Admin: plans open on the review screen (analysis.admin_review); review, apply and revert
go through the services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils.html import format_html

from analysis.admin_review import ReviewScreen
from analysis.apply import request_apply
from analysis.models import (
    AIAnswerCache,
    AIBudget,
    AnalysisPlan,
    ChangeStatus,
    PlanChange,
    PlanCounts,
    PlanScene,
    Rejection,
    SceneAnalysis,
)
from analysis.plan_queries import display_title, plans_with_counts, primary_path, review_counts
from analysis.revert import create_revert_plan
from analysis.review import bulk_review
from stashhog.api.exceptions import NotFound, StashHogException

CHANGE_FIELDS = ["scene_id", "scene_title", "field", "action", "current_value",
                 "proposed_value", "confidence", "source", "reason", "status", "error",
                 "conflict", "reviewed_by", "applied_by", "value_before_apply",
                 "created_entities", "reverts"]


@admin.register(AnalysisPlan)
class AnalysisPlanAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "status", "created_at", "total_scenes", "total_changes",
                    "review_progress"]
    list_filter = ["status"]
    search_fields = ["name"]
    actions = ["apply_plans", "revert_plans"]

    def get_queryset(self, request):
        return plans_with_counts()

    def has_add_permission(self, request):
        return False  # plans come from analysis

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The review screen instead of a model form (the plan's fields are not edited)."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            screen = ReviewScreen(self, request, object_id)
        except NotFound:
            raise Http404("No such plan") from None
        if request.method == "POST":
            if not self.has_change_permission(request, screen.plan):
                raise PermissionDenied
            return screen.perform()
        return screen.render()

    @admin.display(description="Review")
    def review_progress(self, plan):
        return ", ".join(f"{count} {status}" for status, count in review_counts(plan).items()
                         if count)

    @admin.display(ordering="total_scenes")
    def total_scenes(self, plan):
        return plan.total_scenes

    @admin.display(ordering="total_changes")
    def total_changes(self, plan):
        return plan.total_changes

    @admin.action(description="Apply the accepted changes of the selected plans")
    def apply_plans(self, request, queryset):
        for plan in queryset:
            try:
                job = request_apply(plan.pk, None, background=True, user=request.user)
            except StashHogException as exc:
                self.message_user(request, f"{plan}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{plan}: apply job {job.id} queued")


    @admin.action(description="Create plans undoing the applied changes of the selected plans")
    def revert_plans(self, request, queryset):
        for plan in queryset:
            try:
                revert = create_revert_plan(plan.pk)
            except StashHogException as exc:
                self.message_user(request, f"{plan}: {exc.message}", messages.ERROR)
            else:
                link = reverse("admin:analysis_analysisplan_change", args=[revert.pk])
                self.message_user(request, format_html(
                    '{}: <a href="{}">{}</a> created; review and apply it to undo.',
                    plan, link, revert))


@admin.register(PlanChange)
class PlanChangeAdmin(admin.ModelAdmin):
    list_display = ["id", "plan", "scene_id", "scene_label", "field", "action", "confidence",
                    "source", "status"]
    list_filter = ["plan", "status", "field", "source"]
    search_fields = ["=scene_id", "scene_title"]
    list_select_related = ["plan"]
    fields = readonly_fields = ("plan", *CHANGE_FIELDS, "applied_at")
    actions = ["accept_changes", "reject_changes"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(scene_path=primary_path())

    @admin.display(description="Scene")
    def scene_label(self, change):
        """The title (or the file name of an untitled scene) over the primary file path."""
        path = getattr(change, "scene_path", None)
        return format_html("{}<br><small>{}</small>", display_title(change.scene_title, path),
                           path or "")

    def _review(self, request, queryset, status: str) -> None:
        by_plan: dict[int, list[int]] = {}
        for plan_id, change_id in queryset.values_list("plan_id", "id"):
            by_plan.setdefault(plan_id, []).append(change_id)
        for plan_id, change_ids in by_plan.items():
            try:
                counts = bulk_review(plan_id, status, change_ids=change_ids, user=request.user)
            except StashHogException as exc:
                self.message_user(request, f"Plan {plan_id}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"Plan {plan_id}: {counts['updated']} {status}, "
                                           f"{counts['skipped_applied']} already applied")

    @admin.action(description="Accept the selected changes")
    def accept_changes(self, request, queryset):
        self._review(request, queryset, ChangeStatus.ACCEPTED)

    @admin.action(description="Reject the selected changes")
    def reject_changes(self, request, queryset):
        self._review(request, queryset, ChangeStatus.REJECTED)


@admin.register(AIAnswerCache)
class AIAnswerCacheAdmin(admin.ModelAdmin):
    """Read-only; deleting a row makes the next analysis of that scene ask the AI again."""

    list_display = ["scene_id", "model", "created_at"]
    list_filter = ["model"]
    search_fields = ["=scene_id"]
    readonly_fields = ["scene_id", "request_key", "model", "answer", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SceneAnalysis)
class SceneAnalysisAdmin(admin.ModelAdmin):
    """Read-only; deleting a row makes ``only=changed`` analyse that scene again."""

    list_display = ["scene_id", "analyzed_at", "checked_at"]
    search_fields = ["=scene__id"]
    readonly_fields = ["scene", "analyzed_at", "checked_at", "fingerprint",
                       "settings_fingerprint"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Rejection)
class RejectionAdmin(admin.ModelAdmin):
    """Read-only; deleting a row takes the rejection back (later analyses may propose the
    value again), as ``DELETE /api/analysis/rejections/{id}`` does."""

    list_display = ["scene_id", "field", "action", "rejected_by", "created_at"]
    list_filter = ["field", "action"]
    list_select_related = ["rejected_by"]
    search_fields = ["=scene__id"]
    readonly_fields = ["scene", "field", "action", "value", "change", "rejected_by",
                       "created_at"]
    exclude = ["value_key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AIBudget)
class AIBudgetAdmin(admin.ModelAdmin):
    """Read-only: what each AI analysis may spend, has spent and has in flight."""

    list_display = ["plan", "limit_usd", "spent_usd", "reserved_usd", "reached"]
    list_filter = ["reached"]
    list_select_related = ["plan"]
    readonly_fields = ["plan", "limit_usd", "spent_usd", "reserved_usd", "reached"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class KeptByTriggersAdmin(admin.ModelAdmin):
    """Read-only: database triggers keep these rows from the changes (analysis.models). They
    go only with their plan: deleting one alone would leave its plan's counts wrong."""

    list_select_related = ["plan"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        match = getattr(request, "resolver_match", None)
        return bool(match and match.url_name
                    and match.url_name.startswith("analysis_analysisplan_"))


@admin.register(PlanCounts)
class PlanCountsAdmin(KeptByTriggersAdmin):
    list_display = ["plan", "scenes", "changes", "pending", "accepted", "rejected", "applied",
                    "failed"]


@admin.register(PlanScene)
class PlanSceneAdmin(KeptByTriggersAdmin):
    list_display = ["plan", "scene_id", "changes"]
    list_filter = ["plan"]
    search_fields = ["=scene_id"]
