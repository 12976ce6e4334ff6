"""ReusedStatement: a queryset composed once, answering for other values what the ORM
answers, with the ORM's conversions (dates, JSON)."""

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from scenes.models import Scene
from scenes.queries import ENTITY_LINKS, FILES, attach_related, scene_rows
from stashhog.lookups import AnyOf
from stashhog.statements import ReusedStatement
from tests.scenes.test_api import ANNA, OUTDOOR, POV, STUDIO, ZOE, save, stash_scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenes():
    save(stash_scene(1, date="2024-03-01", urls=["https://example.org/a"], studio=STUDIO,
                     performers=[ANNA, ZOE], tags=[OUTDOOR, POV],
                     stash_ids=[{"endpoint": "https://stashdb.example/graphql",
                                 "stash_id": "4f1c"}],
                     files=["/media/a.mp4", "/media/b.mp4"]),
         stash_scene(2, performers=[ANNA]), stash_scene(3, tags=[POV]), stash_scene(4))


def scene_values(ids):
    return (Scene.objects.filter(AnyOf(F("id"), ids)).order_by("id")
            .values("id", "urls", "stash_ids", "created_date", "scene_date", "organized"))


@pytest.mark.parametrize("build", [scene_values, FILES._build, ENTITY_LINKS._build])
def test_each_call_answers_what_the_orm_answers_for_its_values(scenes, build):
    statement = ReusedStatement(build)
    for ids in (["1", "2"], ["3"], ["4", "1", "1", None, "99"], ["1", "2", "3", "4"],
                ["99"], [], [None]):
        assert statement.rows(ids) == list(build(ids)), ids


def test_it_is_composed_once(scenes):
    built = []
    statement = ReusedStatement(lambda ids: built.append(ids) or scene_values(ids))
    for ids in (["1"], ["2", "3"], ["4"]):
        with CaptureQueriesContext(connection) as captured:
            statement.rows(ids)
        assert len(captured) == 1
    assert built == [["1"]]


def test_values_that_reach_no_any_of_lookup_are_refused(scenes):
    statement = ReusedStatement(lambda ids: Scene.objects.filter(id__in=ids).values("id"))
    with pytest.raises(ValueError, match="no AnyOf"):
        statement.rows(["1"])


def test_a_page_of_scenes_gets_its_files_and_entities(scenes):
    page = attach_related(list(scene_rows().filter(id__in=["1", "2"]).order_by("id")))
    first, second = page
    assert [row["path"] for row in first["file_rows"]] == ["/media/a.mp4", "/media/b.mp4"]
    assert first["entity_refs"] == {"tags": [OUTDOOR, POV], "performers": [ANNA, ZOE],
                                    "studio": [STUDIO]}
    assert second["entity_refs"] == {"tags": [], "performers": [ANNA], "studio": []}
