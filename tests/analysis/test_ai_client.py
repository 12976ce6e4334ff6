"""AIClient against the fake OpenAI server through the real ``openai`` package."""

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from analysis.ai import (
    DEFAULT_PRICES_PER_MILLION,
    AIAuthError,
    AIClient,
    AIConfig,
    AIError,
    AIModelNotFound,
    AIOutputInvalid,
    AIRequestTooLong,
    AIUnreachable,
    cost_usd,
)
from stashhog.api.errors import http_status
from tests.fakes.openai import estimate_tokens

SCHEMA = {
    "type": "object",
    "properties": {
        "tags": {"type": "array", "items": {"type": "string"}},
        "studio": {"type": ["string", "null"]},
    },
    "required": ["tags", "studio"],
    "additionalProperties": False,
}
ANSWER = {"tags": ["outdoor", "beach"], "studio": "Acme"}


def make_client(server, **overrides) -> AIClient:
    config = {
        "base_url": server.base_url,
        "api_key": server.api_key,
        "model": "gpt-4o-mini",
        "max_retries": 0,
        **overrides,
    }
    return AIClient(AIConfig(**config))


def complete(client: AIClient, user: str = "Scene: beach_day.mp4"):
    return client.complete_json(
        system="You tag scenes.", user=user, schema=SCHEMA, schema_name="scene_tags"
    )


def test_structured_output_is_parsed_with_usage(fake_openai):
    fake_openai.responder = lambda request: ANSWER

    result = complete(make_client(fake_openai))

    assert result.data == ANSWER
    assert result.model == "gpt-4o-mini"
    assert result.prompt_tokens > 0
    assert result.completion_tokens == estimate_tokens(
        '{"tags": ["outdoor", "beach"], "studio": "Acme"}'
    )
    request = fake_openai.requests[0]
    assert request["messages"] == [
        {"role": "system", "content": "You tag scenes."},
        {"role": "user", "content": "Scene: beach_day.mp4"},
    ]
    assert request["response_format"]["json_schema"] == {
        "name": "scene_tags",
        "schema": SCHEMA,
        "strict": True,
    }


def test_cached_prompt_tokens_are_read_from_the_usage(fake_openai_factory):
    server = fake_openai_factory(cache_min_tokens=0, cache_block_tokens=8)
    server.responder = lambda request: ANSWER
    client = make_client(server)

    first = complete(client, "Scene: " + "x" * 100 + "beach_day.mp4")
    second = complete(client, "Scene: " + "x" * 100 + "forest_walk.mp4")

    assert first.cached_tokens == 0
    assert 0 < second.cached_tokens < second.prompt_tokens
    assert second.cached_tokens % 8 == 0


def test_a_looser_check_schema_validates_instead_of_the_requested_one(fake_openai):
    fake_openai.responder = lambda request: {"tags": "not a list", "studio": None}
    loose = {"type": "object", "required": ["tags"]}

    result = make_client(fake_openai).complete_json(
        system="s", user="u", schema=SCHEMA, schema_name="scene_tags", check=loose)

    assert result.data == {"tags": "not a list", "studio": None}
    assert fake_openai.requests[0]["response_format"]["json_schema"]["schema"] == SCHEMA


def test_cached_tokens_are_priced_at_the_cached_rate():
    prices = {"m": {"prompt": 1.0, "cached_prompt": 0.25, "completion": 2.0},
              "plain": {"prompt": 1.0, "completion": 2.0}}

    assert cost_usd(prices, "m", 1000, 100, 400) == pytest.approx(
        (600 * 1.0 + 400 * 0.25 + 100 * 2.0) / 1e6)
    assert cost_usd(prices, "plain", 1000, 100, 400) == cost_usd(prices, "plain", 1000, 100)


def test_prompt_tokens_grow_with_the_prompt(fake_openai):
    client = make_client(fake_openai)

    short = complete(client, "x" * 100)
    long = complete(client, "x" * 1000)

    assert long.prompt_tokens > short.prompt_tokens


def test_invalid_json_raises_output_invalid_with_usage(fake_openai):
    fake_openai.responder = lambda request: '{"tags": ["beach"'

    with pytest.raises(AIOutputInvalid) as exc_info:
        complete(make_client(fake_openai))

    error = exc_info.value
    assert "not valid JSON" in error.message
    assert error.prompt_tokens > 0
    assert error.completion_tokens == estimate_tokens('{"tags": ["beach"')
    assert error.model == "gpt-4o-mini"
    assert error.content == '{"tags": ["beach"'


def test_schema_violation_raises_output_invalid_with_usage(fake_openai):
    fake_openai.responder = lambda request: {"tags": "beach", "studio": None}

    with pytest.raises(AIOutputInvalid) as exc_info:
        complete(make_client(fake_openai))

    assert "$.tags" in exc_info.value.message
    assert exc_info.value.prompt_tokens > 0
    assert exc_info.value.completion_tokens > 0


def test_empty_answer_is_invalid_output(fake_openai):
    fake_openai.responder = lambda request: ""

    with pytest.raises(AIOutputInvalid, match="empty answer"):
        complete(make_client(fake_openai))


def test_429_with_retry_after_is_retried_by_the_openai_package(fake_openai):
    fake_openai.responder = lambda request: ANSWER
    fake_openai.queue_error(429, headers={"Retry-After": "1"})

    result = complete(make_client(fake_openai, max_retries=2))

    assert len(fake_openai.requests) == 2
    assert result.data == ANSWER


def test_500_is_retried_then_succeeds(fake_openai):
    fake_openai.responder = lambda request: ANSWER
    fake_openai.queue_error(500, headers={"Retry-After-Ms": "10"})

    result = complete(make_client(fake_openai, max_retries=2))

    assert len(fake_openai.requests) == 2
    assert result.data == ANSWER


def test_rate_limit_without_retries_left_is_an_ai_error(fake_openai):
    fake_openai.queue_error(429)

    with pytest.raises(AIError, match="rate limiting") as exc_info:
        complete(make_client(fake_openai))

    assert type(exc_info.value) is AIError
    assert http_status(exc_info.value) == 502


def test_a_request_longer_than_the_context_is_told_apart(fake_openai):
    fake_openai.context_tokens = 10

    with pytest.raises(AIRequestTooLong, match=r"HTTP 400\): This model's maximum context"):
        complete(make_client(fake_openai))

    fake_openai.context_tokens = None
    assert complete(make_client(fake_openai)).data is not None


@pytest.mark.parametrize(("status", "body"), [
    (400, {"error": {"code": 400, "type": "exceed_context_size_error",  # llama.cpp
                     "message": "the request exceeds the available context size"}}),
    (400, {"object": "error", "type": "BadRequestError", "code": 400,  # vLLM
           "message": "This model's maximum context length is 4096 tokens."}),
    (413, {"error": {"message": "Request Entity Too Large"}}),  # a proxy
])
def test_local_servers_ways_of_saying_too_long_are_understood(fake_openai, status, body):
    fake_openai.queue_error(status, body=body)

    with pytest.raises(AIRequestTooLong):
        complete(make_client(fake_openai))


def test_other_bad_requests_are_not_taken_for_too_long(fake_openai):
    fake_openai.queue_error(400, body={"error": {"message": "Invalid value for 'temperature'",
                                                 "type": "invalid_request_error"}})

    with pytest.raises(AIError) as exc_info:
        complete(make_client(fake_openai))

    assert type(exc_info.value) is AIError


def test_wrong_key_raises_auth_error_without_the_key(fake_openai):
    wrong_key = "sk-wrong-0123456789abcdefghij"

    with pytest.raises(AIAuthError) as exc_info:
        complete(make_client(fake_openai, api_key=wrong_key))

    assert wrong_key not in str(exc_info.value)
    assert wrong_key[-4:] not in str(exc_info.value)
    assert exc_info.value.__cause__ is None
    assert wrong_key not in repr(make_client(fake_openai, api_key=wrong_key).config)


def test_missing_key_sends_placeholder_that_a_keyless_server_accepts(fake_openai_factory):
    server = fake_openai_factory()
    server.responder = lambda request: ANSWER

    result = complete(make_client(server, api_key=None))

    assert result.data == ANSWER


def test_upstream_error_messages_are_redacted(fake_openai):
    leaked = f"bad request for key {fake_openai.api_key}"
    fake_openai.queue_error(400, body={"error": {"message": leaked, "type": "x", "code": None}})

    with pytest.raises(AIError) as exc_info:
        complete(make_client(fake_openai))

    assert fake_openai.api_key not in str(exc_info.value)
    assert "HTTP 400" in str(exc_info.value)


def test_check_model_returns_model_and_owner(fake_openai):
    assert make_client(fake_openai, model="gpt-4.1").check_model() == {
        "model": "gpt-4.1",
        "owned_by": "fake-openai",
    }
    completion_request = fake_openai.requests[-1]
    assert completion_request["model"] == "gpt-4.1"
    assert completion_request["max_tokens"] == 1


def test_check_model_unknown_model_raises_model_not_found(fake_openai):
    with pytest.raises(AIModelNotFound, match="'gpt-9'"):
        make_client(fake_openai, model="gpt-9").check_model()


def test_check_model_wrong_key_raises_auth_error(fake_openai):
    with pytest.raises(AIAuthError):
        make_client(fake_openai, api_key="sk-nope-000000000000").check_model()


def test_wrong_base_url_path_is_not_reported_as_missing_model(fake_openai):
    client = make_client(fake_openai, base_url=fake_openai.base_url.removesuffix("/v1"))

    with pytest.raises(AIError, match="base URL") as exc_info:
        client.check_model()

    assert not isinstance(exc_info.value, AIModelNotFound)


def test_closed_port_raises_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    config = AIConfig(
        base_url=f"http://127.0.0.1:{closed_port}/v1",
        api_key="sk-x",
        model="gpt-4o-mini",
        timeout=2,
        max_retries=0,
    )

    with pytest.raises(AIUnreachable):
        complete(AIClient(config))


def test_slow_server_raises_unreachable_timeout(fake_openai):
    fake_openai.latency = 1.0

    with pytest.raises(AIUnreachable, match="did not answer within 0.2 s"):
        complete(make_client(fake_openai, timeout=0.2))


def test_one_client_serves_concurrent_threads(fake_openai):
    fake_openai.responder = lambda request: {
        "tags": [request["messages"][1]["content"]],
        "studio": None,
    }
    client = make_client(fake_openai)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: complete(client, f"scene-{i}"), range(12)))

    assert [r.data["tags"] for r in results] == [[f"scene-{i}"] for i in range(12)]
    assert len(fake_openai.requests) == 12


def test_cost_usd_arithmetic():
    prices = DEFAULT_PRICES_PER_MILLION

    assert cost_usd(prices, "gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)
    assert cost_usd(prices, "gpt-4o", 2_000, 500) == pytest.approx(
        (2_000 * 2.50 + 500 * 10.00) / 1_000_000
    )
    assert cost_usd(prices, "gpt-4o-mini-2024-07-18", 0, 1_000_000) == pytest.approx(0.60)


def test_cost_usd_unknown_model_is_free_and_overrides_apply():
    assert cost_usd(DEFAULT_PRICES_PER_MILLION, "llama3.1:8b", 10_000, 10_000) == 0.0
    overridden = {**DEFAULT_PRICES_PER_MILLION, "llama3.1:8b": {"prompt": "1", "completion": "2"}}
    assert cost_usd(overridden, "llama3.1:8b", 1_000_000, 1_000_000) == pytest.approx(3.0)
