"""The fake OpenAI server, driven through the real ``openai`` package."""

import json
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from analysis.ai.prompts import answer_schema, system_prompt, user_prompt
from analysis.fields import ENTITY_FIELDS
from tests.fakes.openai import (
    DEFAULT_MODELS,
    FakeOpenAIServer,
    content_answer,
    mask_key,
    minimal_instance,
    scene_responder,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "tags": {"type": "array", "items": {"type": "string"}},
        "studio": {"type": ["string", "null"]},
        "confidence": {"type": "number", "minimum": 0},
    },
    "required": ["tags", "studio", "confidence"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "scene_tags", "schema": SCHEMA, "strict": True},
}


def client_for(server: FakeOpenAIServer, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("api_key", server.api_key or "unused")
    return openai.OpenAI(base_url=server.base_url, **kwargs)


def chat(client: openai.OpenAI, text: str, **kwargs):
    return client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **kwargs
    )


def test_lists_and_retrieves_models(fake_openai):
    client = client_for(fake_openai)

    assert [m.id for m in client.models.list().data] == list(DEFAULT_MODELS)
    assert client.models.retrieve("gpt-4.1").owned_by == "fake-openai"


def test_unknown_model_gets_openai_404_body(fake_openai):
    with pytest.raises(openai.NotFoundError) as exc_info:
        client_for(fake_openai, max_retries=0).models.retrieve("gpt-9")

    assert exc_info.value.code == "model_not_found"
    assert exc_info.value.body["message"] == "The model 'gpt-9' does not exist"


def test_wrong_key_gets_401_with_masked_key(fake_openai):
    wrong_key = "sk-wrong-key-abcdefghijkl"

    with pytest.raises(openai.AuthenticationError) as exc_info:
        client_for(fake_openai, api_key=wrong_key, max_retries=0).models.list()

    assert exc_info.value.code == "invalid_api_key"
    assert wrong_key not in str(exc_info.value)
    assert mask_key(wrong_key) in exc_info.value.body["message"]


def test_default_responder_answers_schema_valid_json(fake_openai):
    completion = chat(client_for(fake_openai), "Tag this scene", response_format=RESPONSE_FORMAT)

    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == (
        '{"tags": [], "studio": null, "confidence": 0}'
    )
    assert fake_openai.requests[0]["response_format"] == RESPONSE_FORMAT


def test_scripted_responder_gets_the_request(fake_openai):
    fake_openai.responder = lambda request: {"echo": request["messages"][0]["content"]}

    completion = chat(client_for(fake_openai), "ping")

    assert completion.choices[0].message.content == '{"echo": "ping"}'


def test_prompt_tokens_grow_with_prompt_and_usage_adds_up(fake_openai):
    client = client_for(fake_openai)

    short = chat(client, "a" * 40).usage
    long = chat(client, "a" * 4000).usage

    assert long.prompt_tokens - short.prompt_tokens == (4000 - 40) // 4
    assert short.total_tokens == short.prompt_tokens + short.completion_tokens
    assert short.completion_tokens > 0


def test_strict_schema_with_open_object_is_rejected_like_openai(fake_openai):
    loose = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "loose", "schema": loose, "strict": True},
    }

    with pytest.raises(openai.BadRequestError) as exc_info:
        chat(client_for(fake_openai, max_retries=0), "hi", response_format=response_format)

    assert "additionalProperties" in exc_info.value.body["message"]


def test_queued_errors_are_served_then_cleared(fake_openai):
    fake_openai.queue_error(500, times=2)
    client = client_for(fake_openai, max_retries=0)

    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.models.list()
    client.models.list()

    assert fake_openai.request_count == 3


def test_server_without_key_accepts_any_key(fake_openai_factory):
    server = fake_openai_factory()

    assert client_for(server, api_key="anything").models.retrieve("gpt-4o").id == "gpt-4o"


def test_minimal_instance_follows_refs_enums_and_min_items():
    schema = {
        "$defs": {"kind": {"enum": ["tag", "studio"]}},
        "type": "object",
        "properties": {
            "kind": {"$ref": "#/$defs/kind"},
            "names": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "optional": {"type": "string"},
        },
        "required": ["kind", "names"],
    }

    assert minimal_instance(schema) == {"kind": "tag", "names": [""]}


def scene_request(client, scenes, candidates):
    """A StashHog scene request, as the analysis sends it; the parsed answer."""
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": system_prompt(False)},
                  {"role": "user", "content": user_prompt(scenes, candidates)}],
        response_format={"type": "json_schema", "json_schema": {
            "name": "scene_proposals", "schema": answer_schema(ENTITY_FIELDS), "strict": True}},
    )
    return json.loads(completion.choices[0].message.content), completion.usage


def scene(id_, path, ask=("studio", "performers", "tags"), title=None):
    return {"id": id_, "path": path, **({"title": title} if title else {}), "ask": list(ask)}


CANDIDATES = {"studio": [["Blue Harbor Films", "BHF"]],
              "performers": [["Jane Doe"], ["Anna Bell"], ["Anna"]],
              "tags": [["Outdoor", "Outdoors"]]}


def test_a_batch_is_answered_from_each_scenes_own_content(fake_openai):
    fake_openai.responder = scene_responder(content_answer)
    scenes = [scene("7", "/media/BHF/Anna Bell - Beach.mp4"),
              scene("3", "/media/x/clip.mp4", title="Jane Doe outdoors"),
              scene("5", "/media/Blue Harbor Films/Jane Doe.mp4", ask=["tags"])]

    answer, _ = scene_request(client_for(fake_openai), scenes, CANDIDATES)
    reversed_answer, _ = scene_request(client_for(fake_openai), scenes[::-1], CANDIDATES)

    items = {item["id"]: item for item in answer["scenes"]}
    assert items["7"]["studio"] == {"name": "Blue Harbor Films", "confidence": 0.9,
                                    "seen_in": "folder"}
    assert [p["name"] for p in items["7"]["performers"]] == ["Anna Bell"]  # not "Anna" too
    assert items["3"]["studio"] is None
    assert [(p["name"], p["seen_in"]) for p in items["3"]["performers"]] == [
        ("Jane Doe", "title")]
    assert [p["name"] for p in items["3"]["tags"]] == ["Outdoor"]
    assert items["5"] == {"id": "5", "studio": None, "performers": [], "tags": []}  # not asked
    assert sorted(reversed_answer["scenes"], key=lambda item: item["id"]) == sorted(
        answer["scenes"], key=lambda item: item["id"])  # by content, not position


def test_fail_item_drops_or_malforms_one_item_then_answers_again(fake_openai):
    scenes = [scene("1", "/a.mp4"), scene("2", "/b.mp4"), scene("3", "/c.mp4")]
    fake_openai.fail_item("2", "drop")
    fake_openai.fail_item("3", "malform")
    client = client_for(fake_openai)

    first, _ = scene_request(client, scenes, {})
    second, _ = scene_request(client, scenes, {})

    assert [item["id"] for item in first["scenes"]] == ["1", "3"]
    assert first["scenes"][1] == {"id": "3", "confidence": "high"}
    assert [item["id"] for item in second["scenes"]] == ["1", "2", "3"]
    assert second["scenes"][2] == {"id": "3", "studio": None, "performers": [], "tags": []}


def test_cached_tokens_follow_openais_prompt_cache(fake_openai):
    client = client_for(fake_openai)
    shared = "s" * 4 * 1100  # 1,100 tokens of shared prefix

    first = chat(client, shared + "first question").usage
    short = chat(client, "s" * 4 * 600 + "other").usage
    second = chat(client, shared + "second question").usage

    assert first.prompt_tokens_details.cached_tokens == 0  # nothing seen before
    assert short.prompt_tokens_details.cached_tokens == 0  # under 1,024 shared tokens
    assert second.prompt_tokens_details.cached_tokens == 1024  # whole 128-token blocks


REPO_ROOT = Path(__file__).resolve().parents[2]


def test_standalone_command_serves():
    command = [sys.executable, "-m", "tests.fakes.openai", "--port", "0", "--api-key", "sk-local"]
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            base_url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
            client = openai.OpenAI(base_url=base_url, api_key="sk-local", max_retries=0)
            assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
        finally:
            process.terminate()
