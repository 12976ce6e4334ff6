"""AnyOf: what IN matches, with the values as one parameter."""

import json

import pytest
from django.db import connection
from django.db.models import F

from settings_app.models import Setting
from stashhog.lookups import AnyOf

pytestmark = pytest.mark.django_db


def _keys(queryset) -> list[str]:
    return sorted(queryset.values_list("key", flat=True))


@pytest.mark.parametrize("values", [["a", "c"], ["c", None, "zz"], ["b", "b"], [], [None]])
def test_any_of_matches_what_in_matches(values):
    for key in ("a", "b", "c"):
        Setting.objects.create(key=key, value=0)
    assert _keys(Setting.objects.filter(AnyOf(F("key"), values))) == _keys(
        Setting.objects.filter(key__in=values))


def test_the_values_are_one_parameter_and_the_statement_the_same_for_any_number():
    values = [str(number) for number in range(300)]
    sql, params = Setting.objects.filter(AnyOf(F("key"), values)).query.sql_with_params()
    assert sql == Setting.objects.filter(AnyOf(F("key"), ["1"])).query.sql_with_params()[0]
    if connection.vendor == "postgresql":
        assert "= ANY(%s)" in sql
        assert params == (values,)
    else:
        assert "json_each(%s)" in sql
        assert params == (json.dumps(values),)
