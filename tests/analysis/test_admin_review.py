"""The plan review screen of the admin: scenes paged by 50, the changes list's filters,
current -> proposed marked, and review, edit and apply through the services."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.models import ChangeStatus, PlanChange
from jobs.models import Job
from settings_app.registry import save_settings


@pytest.fixture
def admin_user(db, django_user_model):
    return django_user_model.objects.create_superuser("admin", password="pw")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def plan(library, plan_factory):
    jane = library.performer(20, "Jane Doe")
    library.performer(21, "Anna Bell")
    library.tag(30, "Outdoor")
    library.studio(40, "Vixen")
    library.scene(1, "/media/Vixen/Golden Hour.mp4", performers=[jane])
    library.scene(2, "/media/misc/Sunset.mp4", title="Sunset")
    return plan_factory(
        {"scene_id": "1", "scene_title": "", "field": "performers", "action": "add",
         "current_value": [{"id": "20", "name": "Jane Doe"}],
         "proposed_value": [{"id": "21", "name": "Anna Bell"}, {"id": None, "name": "Mia"}],
         "confidence": 0.95},
        {"scene_id": "1", "scene_title": "", "field": "studio", "action": "set",
         "current_value": None, "proposed_value": {"id": "40", "name": "Vixen"},
         "confidence": 0.6},
        {"scene_id": "2", "scene_title": "Sunset", "field": "details", "action": "set",
         "current_value": "<b>Old</b>", "proposed_value": "Old", "confidence": 0.9,
         "source": "ai"},
    )


def url(plan, query="") -> str:
    return f"/admin/analysis/analysisplan/{plan.id}/change/{query}"


def change(plan, field) -> PlanChange:
    return plan.changes.get(field=field)


def test_review_screen_groups_changes_by_scene_with_title_path_link_and_diff(admin_client, plan):
    save_settings({"stash_url": "http://stash.local:9999/"})
    response = admin_client.get(url(plan))

    assert response.status_code == 200
    scenes = response.context["scenes"]
    assert [s["scene_id"] for s in scenes] == ["1", "2"]
    first = scenes[0]
    assert first["scene_title"] == "Golden Hour.mp4"  # untitled: the file name
    assert first["scene_path"] == "/media/Vixen/Golden Hour.mp4"
    assert first["stash_link"] == "http://stash.local:9999/scenes/1"
    assert first["changes"][0]["diff_html"] == (
        '<span class="kept" title="kept">Jane Doe</span> '
        '<span class="added" title="added">+Anna Bell</span> '
        '<span class="added" title="added">+Mia (new)</span>')
    assert scenes[1]["changes"][0]["diff_html"] == (
        '<span class="removed" title="removed">−&lt;b&gt;Old&lt;/b&gt;</span> '
        '<span class="added" title="added">+Old</span>')
    html = response.content.decode()
    assert 'href="http://stash.local:9999/scenes/1"' in html
    assert '<span class="added" title="added">+Anna Bell</span>' in html
    assert response.context["counts"] == {"pending": 3, "accepted": 0, "rejected": 0,
                                          "applied": 0, "failed": 0}


def test_an_unknown_plan_is_404(admin_client, db):
    assert admin_client.get("/admin/analysis/analysisplan/999/change/").status_code == 404


def test_a_change_of_another_plan_is_not_reviewed_from_this_screen(admin_client, plan,
                                                                  plan_factory):
    other = plan_factory({"scene_id": "2", "field": "details", "proposed_value": "x"})
    foreign = other.changes.get()
    response = admin_client.post(url(plan), {"op": f"accept:{foreign.id}"}, follow=True)
    assert "Change not found in this plan" in response.content.decode()
    assert PlanChange.objects.get(pk=foreign.pk).status == ChangeStatus.PENDING


@pytest.mark.parametrize(("query", "expected"), [
    ("?field=details", {"details"}),
    ("?source=ai", {"details"}),
    ("?min_confidence=0.9", {"performers", "details"}),
    ("?max_confidence=0.7", {"studio"}),
    ("?search=sunset", {"details"}),
    ("?search=vixen", {"performers", "studio"}),
    ("?status=accepted", set()),
])
def test_review_screen_filters(admin_client, plan, query, expected):
    response = admin_client.get(url(plan, query))
    shown = {c["field"] for s in response.context["scenes"] for c in s["changes"]}
    assert shown == expected


def test_review_screen_pages_by_50_scenes_with_a_constant_query_count(admin_client, library,
                                                                      plan_factory):
    for number in range(1, 121):
        library.scene(number, f"/m/{number}.mp4")
    big = plan_factory(*({"scene_id": str(n), "field": "details", "proposed_value": "x"}
                         for n in range(1, 121) for _ in range(2)))
    small = plan_factory({"scene_id": "1", "field": "details", "proposed_value": "x"})

    def queries(plan, query="") -> tuple[int, list]:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(url(plan, query))
        assert response.status_code == 200
        return len(captured), [s["scene_id"] for s in response.context["scenes"]]

    queries(small)  # the first request fills per-process caches
    count_small, _ = queries(small)
    count_big, first_page = queries(big)
    _, last_page = queries(big, "?p=3")
    assert count_small == count_big
    assert first_page == [str(n) for n in range(1, 51)]
    assert last_page == [str(n) for n in range(101, 121)]


def test_accept_and_reject_one_change(admin_client, plan, admin_user):
    studio = change(plan, "studio")
    response = admin_client.post(url(plan, "?field=studio"),
                                 {"op": f"accept:{studio.id}"})

    assert response.status_code == 302
    assert response.url == url(plan, "?field=studio")
    studio.refresh_from_db()
    assert (studio.status, studio.reviewed_by) == (ChangeStatus.ACCEPTED, admin_user)
    admin_client.post(url(plan), {"op": f"reject:{studio.id}"})
    assert PlanChange.objects.get(pk=studio.pk).status == ChangeStatus.REJECTED


def test_edit_link_opens_one_change_s_editor_with_its_value(admin_client, plan):
    performers = change(plan, "performers")
    page = admin_client.get(url(plan, f"?field=performers&edit={performers.id}"))

    shown = page.context["scenes"][0]["changes"][0]
    assert shown["editing"]
    assert shown["value_text"] == (
        '[{"id": "21", "name": "Anna Bell"}, {"id": null, "name": "Mia"}]')
    assert page.content.decode().count("<textarea") == 1
    assert f'href="{url(plan, f"?field=performers&amp;edit={performers.id}")}#edit"' in (
        admin_client.get(url(plan, "?field=performers")).content.decode())


def test_edit_saves_a_valid_value_through_the_review_service(admin_client, plan):
    details = change(plan, "details")
    admin_client.post(url(plan), {"op": f"edit:{details.id}", f"value-{details.id}": "New text"})
    details.refresh_from_db()
    assert (details.proposed_value, details.source) == ("New text", "user")

    performers = change(plan, "performers")
    admin_client.post(url(plan), {"op": f"edit:{performers.id}",
                                  f"value-{performers.id}": '[{"id": "21"}]'})
    assert PlanChange.objects.get(pk=performers.pk).proposed_value == [
        {"id": "21", "name": "Anna Bell"}]


@pytest.mark.parametrize(("value", "message"), [
    ('[{"id": "20"}]', "The scene already has: Jane Doe."),
    ('[{"id": "999"}]', "Unknown performer id(s): 999."),
    ("not json", "Not valid JSON."),
])
def test_a_bad_edit_is_a_form_error_and_saves_nothing(admin_client, plan, value, message):
    performers = change(plan, "performers")
    response = admin_client.post(url(plan), {"op": f"edit:{performers.id}",
                                             f"value-{performers.id}": value})

    assert response.status_code == 400
    shown = response.context["scenes"][0]["changes"][0]
    assert (shown["edit_error"], shown["value_text"]) == (message, value)
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert PlanChange.objects.get(pk=performers.pk).proposed_value == performers.proposed_value
    assert PlanChange.objects.get(pk=performers.pk).status == ChangeStatus.PENDING


def test_accept_a_scene_and_everything_the_filter_shows(admin_client, plan, admin_user):
    admin_client.post(url(plan), {"op": "scene-accept:1"})
    assert set(plan.changes.filter(status="accepted").values_list("scene_id", flat=True)) == {
        "1"}
    assert plan.changes.filter(status="accepted").count() == 2

    admin_client.post(url(plan, "?min_confidence=0.9"), {"op": "filter-reject"})
    assert set(plan.changes.filter(status="rejected").values_list("field", flat=True)) == {
        "performers", "details"}
    assert change(plan, "studio").status == ChangeStatus.ACCEPTED
    assert not plan.changes.exclude(reviewed_by=admin_user).exists()


def test_scene_accept_keeps_to_the_filter(admin_client, plan):
    admin_client.post(url(plan, "?field=studio"), {"op": "scene-accept:1"})
    assert list(plan.changes.filter(status="accepted").values_list("field", flat=True)) == [
        "studio"]


def test_apply_starts_the_job_and_links_to_the_job_monitor(admin_client, plan, monkeypatch,
                                                           admin_user):
    calls = []

    def fake_request_apply(plan_id, scene_ids, *, background, user):
        calls.append((plan_id, scene_ids, background, user))
        return Job.objects.create(type="apply", created_by=user)

    monkeypatch.setattr("analysis.admin_review.request_apply", fake_request_apply)
    response = admin_client.post(url(plan), {"op": "apply"}, follow=True)

    job = Job.objects.get()
    assert calls == [(plan.id, None, True, admin_user)]
    assert f'href="/jobs#job-{job.id}"' in response.content.decode()


def test_apply_without_accepted_changes_says_why(admin_client, plan):
    response = admin_client.post(url(plan), {"op": "apply"}, follow=True)
    assert "The plan has no accepted changes to apply" in response.content.decode()
    assert not Job.objects.exists()


def test_a_view_only_user_sees_the_screen_without_review_buttons(client, plan,
                                                                 django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_analysisplan"))
    client.force_login(viewer)

    page = client.get(url(plan))
    assert page.status_code == 200
    assert 'name="op"' not in page.content.decode()
    refused = client.post(url(plan), {"op": f"accept:{change(plan, 'studio').id}"})
    assert refused.status_code == 403
    assert change(plan, "studio").status == ChangeStatus.PENDING
