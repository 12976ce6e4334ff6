"""The indexes behind the scene filters and sorts are there, and the queries can use them."""

import re

import pytest
from django.db import connection

from scenes.filters import SceneFilterSet
from scenes.models import Scene
from scenes.queries import scene_queryset
from stashhog.api.pagination import order_queryset, rows_after

pytestmark = pytest.mark.django_db


def _explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
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
    ({"tag_ids": "7"}, "scenes_scene_tags_tag_id"),
    ({"performer_ids": "7"}, "scenes_scene_performers_performer_id"),
])
def test_filters_can_use_an_index(params, index):
    assert re.search(index, _explain(_filtered(**params)))


def test_the_default_order_can_use_the_numeric_id_index():
    queryset = scene_queryset().select_related(None).order_by("id_number")[:100]
    assert "scene_id_number" in _explain(queryset)


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
        assert re.search(r"SEARCH .*USING INDEX scene_id_number \(<expr>>\?\)", plan)
