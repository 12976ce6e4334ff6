"""The API's JSON renderer gives the JSON DRF's own renderer gives."""

import datetime
import decimal
import json
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict

from stashhog.api.renderers import FastJSONRenderer

SAMPLES = [
    {"items": [{"id": "1", "title": "Ünïcode \u2028 line", "size": 2**40, "fps": 29.97,
                "organized": True, "details": None, "tags": [{"id": "7", "name": "x"}]}],
     "total": 1, "total_exact": True, "next_cursor": None},
    ReturnDict({"when": datetime.datetime(2026, 1, 10, 9, 0, 0, 123456,
                                          tzinfo=datetime.UTC),
                "day": datetime.date(2026, 1, 10), "id": uuid.UUID(int=5),
                "price": decimal.Decimal("0.029"), "message": gettext_lazy("Not found."),
                "ids": (1, 2), "set": {3}}, serializer=None),
    {"huge": 2**70, 1: "int key"},
    [],
]


@pytest.mark.parametrize("data", SAMPLES)
def test_the_same_json_as_drf(data):
    assert json.loads(FastJSONRenderer().render(data)) == json.loads(JSONRenderer().render(data))


def test_indented_and_empty_answers_are_drfs():
    data = {"a": [1, 2]}
    media_type = "application/json; indent=2"
    assert FastJSONRenderer().render(data, media_type) == JSONRenderer().render(data, media_type)
    assert FastJSONRenderer().render(None) == b""


def test_the_api_answers_with_it(api_client):
    response = api_client.get("/api/jobs")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, FastJSONRenderer)
