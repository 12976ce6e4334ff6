"""The analysis admin: plan and change lists, their review and apply actions (the review
screen itself: test_admin_review.py)."""

import pytest

from analysis.models import AnalysisPlan, ChangeStatus, PlanCounts, PlanScene, PlanStatus


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("admin", password="pw")
    client.force_login(admin)
    return client


@pytest.fixture
def plans(library, plan_factory):
    library.scene(1, "/media/1.mp4")
    return [
        plan_factory(*[{"scene_id": "1", "scene_title": "", "field": "details",
                        "proposed_value": str(n)}
                       for n in range(count)], name=f"Plan {count}")
        for count in (2, 3)
    ]


def test_plan_and_change_lists_render_with_review_progress(admin_client, plans):
    plans[0].changes.update(status=ChangeStatus.ACCEPTED)
    page = admin_client.get("/admin/analysis/analysisplan/")
    assert page.status_code == 200
    assert "2 accepted" in page.content.decode()
    assert "3 pending" in page.content.decode()
    by_plan = admin_client.get(f"/admin/analysis/planchange/?plan__id__exact={plans[1].id}")
    assert by_plan.status_code == 200
    assert by_plan.context["cl"].result_count == 3
    # Untitled scenes show their file name over the path.
    assert "1.mp4<br><small>/media/1.mp4</small>" in by_plan.content.decode()


def test_accept_and_reject_actions_review_through_the_service(admin_client, plans):
    changes = [plans[0].changes.first().id, plans[1].changes.first().id]

    admin_client.post("/admin/analysis/planchange/",
                      {"action": "accept_changes", "_selected_action": changes})

    for plan in plans:
        plan.refresh_from_db()
        assert plan.status == PlanStatus.REVIEWING
        assert plan.changes.filter(status=ChangeStatus.ACCEPTED).count() == 1

    admin_client.post("/admin/analysis/planchange/",
                      {"action": "reject_changes", "_selected_action": changes[:1]})
    assert plans[0].changes.filter(status=ChangeStatus.REJECTED).count() == 1


def test_apply_action_goes_through_request_apply(admin_client, plans, monkeypatch):
    calls = []

    def fake_request_apply(plan_id, scene_ids, *, background, user):
        calls.append((plan_id, scene_ids, background, user.username))
        from jobs.models import Job

        return Job.objects.create(type="apply")

    monkeypatch.setattr("analysis.admin.request_apply", fake_request_apply)

    admin_client.post("/admin/analysis/analysisplan/",
                      {"action": "apply_plans", "_selected_action": [plans[0].id]})

    assert calls == [(plans[0].id, None, True, "admin")]


def test_plan_counts_and_scenes_go_only_with_their_plan(admin_client, plans):
    counts = PlanCounts.objects.get(plan=plans[0])
    alone = admin_client.post(f"/admin/analysis/plancounts/{counts.pk}/delete/", {"post": "yes"})
    scene = PlanScene.objects.get(plan=plans[0])
    scene_alone = admin_client.post(f"/admin/analysis/planscene/{scene.pk}/delete/",
                                    {"post": "yes"})
    assert (alone.status_code, scene_alone.status_code) == (403, 403)
    assert PlanCounts.objects.filter(plan=plans[0]).exists()

    page = admin_client.post(f"/admin/analysis/analysisplan/{plans[0].pk}/delete/",
                             {"post": "yes"})
    assert page.status_code == 302
    assert not AnalysisPlan.objects.filter(pk=plans[0].pk).exists()
    assert not PlanCounts.objects.filter(plan=plans[0].pk).exists()
    assert not PlanScene.objects.filter(plan=plans[0].pk).exists()
