"""The plan review screen of the admin: one page of 50 scenes with their changes, filtered by
the changes list's FilterSet, and every review action through analysis.review and apply.

GET renders; POST performs one ``op`` and redirects back (an edit the review service rejects
renders the page again with the error next to the change, nothing saved).
"""

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from analysis.apply import request_apply
from analysis.diff import diff_entries
from analysis.fields import SCENE_FIELDS
from analysis.filters import PlanChangeFilterSet
from analysis.models import ChangeAction, ChangeStatus, PlanChange
from analysis.plan_queries import (
    get_plan,
    plan_scenes,
    plans_with_counts,
    review_counts,
    scene_number,
)
from analysis.review import bulk_review, update_change
from settings_app import get_setting
from stashhog.api.exceptions import InvalidInput, NotFound, StashHogException

SCENES_PER_PAGE = 50
FILTER_NAMES = tuple(PlanChangeFilterSet.base_filters)
# Confidence bands offered as one-click filters: (label, min, max).
CONFIDENCE_BANDS = (("≥ 0.9", "0.9", ""), ("0.7–0.9", "0.7", "0.9"), ("0.5–0.7", "0.5", "0.7"),
                    ("< 0.5", "", "0.5"))
MARKS = {"added": "+", "removed": "−", "kept": ""}
ENTITY_HINT = '{"id": "12"} for an entity Stash has, {"id": null, "name": "New"} for a new one'


def _filters(request) -> dict:
    return {name: request.GET[name] for name in FILTER_NAMES if request.GET.get(name)}


def _value_text(field: str, value) -> str:
    """A proposed value as the edit box shows it: text fields as text, the rest as JSON."""
    if SCENE_FIELDS[field].is_text:
        return value or ""
    return json.dumps(value, ensure_ascii=False)


def _diff_html(change: dict) -> str:
    entries = diff_entries(change["field"], change["action"], change["current_value"],
                           change["proposed_value"])
    if not entries:
        return format_html('<span class="kept">(nothing)</span>')
    return format_html_join(" ", '<span class="{}" title="{}">{}{}{}</span>', (
        (e.state, e.state, MARKS[e.state], e.label, " (new)" if e.new else "")
        for e in entries))


def _edit_hint(change: dict) -> str:
    field = SCENE_FIELDS[change["field"]]
    if field.plain:
        return f"{field.value_hint[0].upper()}{field.value_hint[1:]}" + (
            "." if field.is_text else " (JSON).")
    return ENTITY_HINT + ("." if change["action"] == ChangeAction.SET else ", as a list.")


def _parse_value(field: str, text: str):
    if SCENE_FIELDS[field].is_text:
        return text
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput("Invalid proposed value",
                           detail={"proposed_value": ["Not valid JSON."]}) from None


class ReviewScreen:
    template = "admin/analysis/analysisplan/review.html"

    def __init__(self, model_admin, request, plan_id):
        self.admin = model_admin
        self.request = request
        self.plan = get_plan(plan_id)
        self.filters = _filters(request)
        self.path = reverse("admin:analysis_analysisplan_change", args=[self.plan.pk])

    def url(self, **params) -> str:
        """This screen with the current filters and ``params`` (empty values dropped)."""
        query = {**self.filters, **params}
        query = {key: value for key, value in query.items() if value not in ("", None)}
        return f"{self.path}?{urlencode(query)}" if query else self.path

    # -- GET -------------------------------------------------------------------------------

    @staticmethod
    def _open_editor(change: dict, rejected: tuple[str, str] | None) -> None:
        """One change at a time shows its edit box (``?edit=<id>``), or the one whose
        ``rejected`` edit (text, error) the review service refused."""
        change["editing"] = True
        change["edit_hint"] = _edit_hint(change)
        if rejected is None:
            change["value_text"] = _value_text(change["field"], change["proposed_value"])
        else:
            change["value_text"], change["edit_error"] = rejected

    def render(self, edit_errors: dict | None = None, status: int = 200) -> TemplateResponse:
        """The page; ``edit_errors`` {change id: (submitted text, error)} reopens an edit."""
        plan = plans_with_counts().get(pk=self.plan.pk)
        filterset = PlanChangeFilterSet(self.filters, queryset=plan.changes.all())
        changes = filterset.qs if filterset.is_valid() else plan.changes.none()
        scene_ids = (changes.order_by(scene_number(), "scene_id")
                     .values_list("scene_id", flat=True).distinct())
        paginator = Paginator(scene_ids, SCENES_PER_PAGE)
        page = paginator.get_page(self.request.GET.get("p"))
        scenes = plan_scenes(changes, page.number, SCENES_PER_PAGE) if paginator.count else []
        editing = edit_errors or {}
        if not editing and self.request.GET.get("edit", "").isdigit():
            editing = {int(self.request.GET["edit"]): None}
        can_review = self.admin.has_change_permission(self.request, plan)
        stash_url = (get_setting("stash_url") or "").rstrip("/")
        page_param = page.number if page.number > 1 else ""
        action_url = self.url(p=page_param)
        edit_url = f"{action_url}{'&' if '?' in action_url else '?'}edit="
        for scene in scenes:
            scene["stash_link"] = f"{stash_url}/scenes/{scene['scene_id']}"
            for change in scene["changes"]:
                change["diff_html"] = _diff_html(change)
                change["edit"] = can_review and change["status"] != ChangeStatus.APPLIED
                if change["edit"]:
                    change["edit_url"] = f"{edit_url}{change['id']}"
                if change["edit"] and change["id"] in editing:
                    self._open_editor(change, editing[change["id"]])
        context = {
            **self.admin.admin_site.each_context(self.request),
            "opts": self.admin.model._meta,
            "title": f"Review: {plan.name}",
            "plan": plan,
            "counts": review_counts(plan),
            "filterset": filterset,
            "filters_active": bool(self.filters),
            "bands": [(label, self.url(min_confidence=low, max_confidence=high, p=""))
                      for label, low, high in CONFIDENCE_BANDS],
            "matched_changes": changes.count(),
            "page": page,
            "page_links": {"previous": page.has_previous() and self.url(
                               p=page.previous_page_number()),
                           "next": page.has_next() and self.url(p=page.next_page_number())},
            "scenes": scenes,
            "action_url": action_url,
            "can_review": can_review,
        }
        return TemplateResponse(self.request, self.template, context, status=status)

    # -- POST ------------------------------------------------------------------------------

    def perform(self):
        """``op`` is ``accept:<change id>``, ``reject:<id>``, ``edit:<id>`` (the value in
        ``value-<id>``), ``scene-accept:<scene id>``, ``scene-reject:<scene id>``,
        ``filter-accept``, ``filter-reject`` or ``apply``."""
        post, user = self.request.POST, self.request.user
        op, _, target = post.get("op", "").partition(":")
        back = self.url(p=self.request.GET.get("p", ""))
        try:
            if op in ("accept", "reject"):
                status = ChangeStatus.ACCEPTED if op == "accept" else ChangeStatus.REJECTED
                update_change(self._change(target).pk, status=status, user=user)
            elif op == "edit":
                return self._edit(self._change(target), post.get(f"value-{target}", ""), back)
            elif op in ("scene-accept", "scene-reject", "filter-accept", "filter-reject"):
                self._bulk(op, target or None)
            elif op == "apply":
                job = request_apply(self.plan.pk, None, background=True, user=user)
                monitor = f"{reverse('job-monitor')}#job-{job.id}"
                messages.success(self.request, format_html(
                    'Apply job {} started: <a href="{}" class="job-link">follow it in the job '
                    "monitor</a>.", job.id, monitor))
            else:
                raise InvalidInput(f"Unknown operation {op!r}")
        except StashHogException as exc:
            messages.error(self.request, exc.message)
        return redirect(back)

    def _change(self, change_id) -> PlanChange:
        try:
            return self.plan.changes.get(pk=int(change_id))
        except (ValueError, PlanChange.DoesNotExist):
            raise NotFound("Change not found in this plan") from None

    def _edit(self, change: PlanChange, text: str, back: str):
        try:
            update_change(change.pk, proposed_value=_parse_value(change.field, text),
                          user=self.request.user)
        except InvalidInput as exc:
            problems = (exc.detail or {}).get("proposed_value") or [exc.message]
            return self.render({change.pk: (text, " ".join(problems))}, status=400)
        messages.success(self.request, f"Change {change.pk} saved.")
        return redirect(back)

    def _bulk(self, op: str, scene_id: str | None) -> None:
        status = ChangeStatus.ACCEPTED if op.endswith("accept") else ChangeStatus.REJECTED
        scene_ids = [scene_id] if op.startswith("scene") else None
        counts = bulk_review(self.plan.pk, status, scene_ids=scene_ids,
                             filters=self.filters, user=self.request.user)
        where = f"scene {scene_id}" if scene_ids else "the filter"
        messages.success(self.request, f"{counts['updated']} change(s) of {where} {status}.")

