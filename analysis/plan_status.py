"""The one place that derives a plan's status from its changes (see analysis.models).

``cancelled`` and ``applying`` are set explicitly (by a cancel and by the apply job); every
other status follows from the changes:
- ``applied``: at least one change applied and nothing accepted or failed is left over;
- ``reviewing``: a person or an apply has touched any change;
- ``draft``: nothing reviewed yet.
"""

from django.db.models import Count
from django.utils import timezone

from analysis.models import AnalysisPlan, ChangeStatus, PlanStatus


def derive_status(counts: dict[str, int]) -> str:
    applied = counts.get(ChangeStatus.APPLIED, 0)
    left_over = counts.get(ChangeStatus.ACCEPTED, 0) + counts.get(ChangeStatus.FAILED, 0)
    if applied and not left_over:
        return PlanStatus.APPLIED
    if any(counts.get(status, 0) for status in ChangeStatus if status != ChangeStatus.PENDING):
        return PlanStatus.REVIEWING
    return PlanStatus.DRAFT


def refresh_plan_status(plan: AnalysisPlan) -> AnalysisPlan:
    """Recompute and save ``plan.status`` (a cancelled plan stays cancelled)."""
    if plan.status == PlanStatus.CANCELLED:
        return plan
    counts = dict(
        plan.changes.values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    status = derive_status(counts)
    fields: dict[str, object] = {"status": status}
    if status == PlanStatus.APPLIED and plan.applied_at is None:
        fields["applied_at"] = timezone.now()
    AnalysisPlan.objects.filter(pk=plan.pk).update(**fields)
    for name, value in fields.items():
        setattr(plan, name, value)
    return plan
