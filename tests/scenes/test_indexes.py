"""The indexes behind the scene filters and sorts are there, and the queries can use them."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scenes.filters import SceneFilterSet
from scenes.models import Scene
from scenes.queries import scene_queryset
from stashhog.api.pagination import order_queryset, rows_after

pytestmark = pytest.mark.django_db


def _explain(queryset) -> str:
    return _explain_sql(*queryset.query.sql_with_params())


def _explain_sql(sql: str, params=None) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: force index use
        explain = "EXPLAIN" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
        cursor.execute(f"{explain} {sql}", params)
        return "\n".join(str(row) for row in cursor.fetchall())


def _filtered(**params):
    return SceneFilterSet(params, queryset=Scene.objects.order_by()).qs


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL only")
def test_search_can_use_the_trigram_index():
    plan = _explain(_filtered(search="Golden Hour"))
    assert "scenes_scene_search_trgm" in plan


@pytest.mark.parametrize(("params", "index"), [
    ({"studio_id": "5"}, "scenes_scene_studio_id"),
    ({"date_from": "2024-01-01"}, r"scene_date(_desc)?_id"),
])
def test_filters_can_use_an_index(params, index):
    assert re.search(index, _explain(_filtered(**params)))


@pytest.mark.parametrize(("params", "index"), [
    ({"tag_ids": "7,8"}, "scene_tags_tag_scene"),
    ({"performer_ids": "7,8"}, "scene_performers_performer_scene"),
])
def test_all_of_these_entities_can_read_the_link_rows_from_an_index_alone(params, index):
    """The index holds both link columns, so the link rows need no table read (index-only).
    PostgreSQL's planner picks it by statistics that a test's empty tables lack; there the
    index's columns are checked."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index])
            (definition,), = cursor.fetchall()
        assert re.search(r"\((tag|performer)_id, scene_id\)", definition)
    else:
        assert f"COVERING INDEX {index}" in _explain(_filtered(**params))


def _page_statement(api_client, params) -> str:
    """The SQL of the statement that reads a scene list page (its values inlined)."""
    with CaptureQueriesContext(connection) as captured:
        assert api_client.get("/api/scenes", params).status_code == 200
    return next(query["sql"] for query in captured if "capped" in query["sql"])


def _sorts(plan: str) -> bool:
    return bool(re.search(r"Sort Key|USE TEMP B-TREE FOR ORDER BY", plan))


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_the_id_order_is_read_from_the_numeric_id_index_without_sorting(api_client,
                                                                          sort_order):
    """Ids never are null, so no NULLS LAST is said: the index serves either direction."""
    plan = _explain_sql(_page_statement(api_client, {"sort_order": sort_order}))
    assert "scene_id_number_id" in plan
    assert not _sorts(plan)


def test_a_descending_title_order_walks_its_index_backwards(api_client):
    plan = _explain_sql(_page_statement(api_client, {"sort_by": "title", "sort_order": "desc"}))
    assert "scene_title_id" in plan
    assert not _sorts(plan)


@pytest.mark.parametrize(("params", "index"), [
    ({}, "scene_id_number_id"),
    ({"sort_by": "title", "sort_order": "desc"}, "scene_title_id"),
])
def test_a_deep_page_walks_the_ids_before_it_in_an_index(api_client, params, index):
    """A page past the first walks the ids before it in an index alone (index-only: at
    page 200 that is 19,900 of them), then reads its own rows."""
    plan = _explain_sql(_page_statement(api_client, {**params, "page": 3, "per_page": 2}))
    if connection.vendor == "postgresql":
        # Index-only once VACUUM has marked the table's pages all-visible (a full sync does).
        assert re.search(
            rf"ANY_subquery.*\n.*\n.*Index (Only )?Scan (Backward )?using {index}", plan)
    else:
        assert re.search(rf"LIST SUBQUERY.*\n.*COVERING INDEX {index}", plan)


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the descending index is PostgreSQL only")
def test_newest_first_by_date_can_use_the_descending_index():
    queryset = order_queryset(Scene.objects.all(), {"scene_date": "scene_date"}, "scene_date",
                              "desc", default="pk")[:100]
    assert "scene_date_desc_id" in _explain(queryset)


def test_a_cursor_page_starts_inside_the_numeric_id_index():
    """Page 200 by cursor reads its 100 rows from the index, not the 19,900 before them."""
    after = rows_after("id_number", descending=False, nullable=False, value=19900, pk="19900")
    plan = _explain(scene_queryset().order_by("id_number", "pk").filter(after)[:101])
    if connection.vendor == "postgresql":
        assert re.search(r"scene_id_number.*\n.*Index Cond: \(\(id\)::bigint >= ", plan)
    else:
        assert re.search(r"SEARCH .*USING INDEX scene_id_number_id \(<expr>>\?\)", plan)
