"""The admin review screen in headless Chromium against daphne, a real worker and the fake
Stash: filter, accept a scene, edit a value (a bad one first), reject one, apply, and watch
the job finish in the job monitor; then Stash holds exactly what was accepted."""

import pytest

from analysis.models import AnalysisPlan, ChangeStatus, PlanChange
from jobs.models import JobStatus
from jobs.runner import start_job
from settings_app.registry import save_settings
from tests.e2e_support import TIMEOUT_MS
from tests.fakes.stash_library import generate_library

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def entity(item) -> dict:
    return {"id": str(item.id), "name": item.name}


@pytest.fixture
def stash(fake_stash_factory):
    server = fake_stash_factory(generate_library(12, seed=3))
    save_settings({"stash_url": server.url})
    assert start_job("sync", {"incremental": False}, inline=True).status == JobStatus.COMPLETED
    return server


@pytest.fixture
def plan(stash):
    """Scene A: a tag and a performer; scene B: details and a studio; scene C: a tag."""
    library = stash.library
    a, b, c = list(library.scenes.values())[:3]
    tag = next(t for t in library.tags.values() if t.id not in a.tag_ids + c.tag_ids)
    performer = next(p for p in library.performers.values() if p.id not in a.performer_ids)
    studio = next(s for s in library.studios.values() if s.id != b.studio_id)
    plan = AnalysisPlan.objects.create(name="Browser walk")

    def change(scene, field, action, proposed, current=None):
        return PlanChange.objects.create(
            plan=plan, scene_id=str(scene.id), scene_title=scene.title or "", field=field,
            action=action, proposed_value=proposed, current_value=current, confidence=0.8,
            source="path", reason="browser test")

    plan.ids = {
        "a_tag": change(a, "tags", "add", [entity(tag)], []).id,
        "a_performer": change(a, "performers", "add", [entity(performer)], []).id,
        "b_details": change(b, "details", "set", "Plain details", b.details).id,
        "b_studio": change(b, "studio", "set", entity(studio),
                           entity(library.studios[b.studio_id]) if b.studio_id else None).id,
        "c_tag": change(c, "tags", "add", [entity(tag)], []).id,
    }
    plan.scenes, plan.tag, plan.performer = (a, b, c), tag, performer
    return plan


@pytest.fixture
def reviewer(transactional_db, django_user_model):
    return django_user_model.objects.create_superuser("reviewer", password="secret-password")


def test_a_reviewer_walks_a_plan_to_an_applied_job(browser, celery_worker, daphne_server,
                                                   live_celery, stash, plan, reviewer):
    a, b, c = plan.scenes
    review_url = f"{daphne_server.base_url}/admin/analysis/analysisplan/{plan.pk}/change/"
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(review_url)
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "secret-password")
    page.click("input[type=submit]")
    page.wait_for_url(review_url)

    def row(name: str):
        return page.locator(f'tr[data-change-id="{plan.ids[name]}"]')

    # Filter: only tag changes show.
    page.select_option("#id_field", "tags")
    page.click("#review-filters input[type=submit]")
    page.wait_for_url("**field=tags**")
    assert page.locator("tr.change").count() == 2
    assert row("b_details").count() == 0
    page.click("#review-filters >> text=Clear")

    # Accept scene A: both its changes.
    page.locator(f'section[data-scene-id="{a.id}"] .scene-accept').click()
    row("a_performer").and_(page.locator('[data-status="accepted"]')).wait_for()
    assert row("a_tag").get_attribute("data-status") == "accepted"

    # Edit B's details: a bad value for its studio first (a form error, nothing saved).
    row("b_studio").locator(".edit-link").click()
    page.fill(f'textarea[name="value-{plan.ids["b_studio"]}"]', '{"id": "987654"}')
    row("b_studio").locator(".save-edit").click()
    assert "Unknown studio id(s): 987654." in row("b_studio").locator(".edit-error").inner_text()
    row("b_details").locator(".edit-link").click()
    page.fill(f'textarea[name="value-{plan.ids["b_details"]}"]', "Edited in the browser")
    row("b_details").locator(".save-edit").click()
    page.wait_for_selector(".messagelist .success")
    assert "+Edited in the browser" in row("b_details").locator(".diff").inner_text()
    row("b_details").locator(".accept").click()
    row("b_details").and_(page.locator('[data-status="accepted"]')).wait_for()

    # Reject C's tag.
    row("c_tag").locator(".reject").click()
    row("c_tag").and_(page.locator('[data-status="rejected"]')).wait_for()
    assert page.locator('#review-counts [data-status="accepted"] strong').inner_text() == "3"

    # Apply, follow the link to the job monitor, see the job finish.
    page.click("#apply")
    link = page.locator(".messagelist a.job-link")
    job_id = link.get_attribute("href").rsplit("#job-", 1)[1]
    link.click()
    page.locator(f'tr[data-job-id="{job_id}"] .status[data-status="completed"]').wait_for()
    page.close()

    library = stash.library
    assert plan.tag.id in library.scenes[a.id].tag_ids
    assert plan.performer.id in library.scenes[a.id].performer_ids
    assert library.scenes[b.id].details == "Edited in the browser"
    assert plan.tag.id not in library.scenes[c.id].tag_ids
    statuses = dict(plan.changes.values_list("id", "status"))
    assert statuses[plan.ids["b_studio"]] == ChangeStatus.PENDING
    assert statuses[plan.ids["c_tag"]] == ChangeStatus.REJECTED
    assert {statuses[plan.ids[n]] for n in ("a_tag", "a_performer", "b_details")} == {
        ChangeStatus.APPLIED}
    assert set(plan.changes.filter(status=ChangeStatus.APPLIED)
               .values_list("applied_by__username", flat=True)) == {"reviewer"}
