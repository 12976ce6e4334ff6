"""One client for any OpenAI-compatible server (OpenAI, Ollama, LM Studio, vLLM).

Configured with plain values (base URL, key, model) so it knows nothing of settings or
models. Retries on 429/5xx, honouring ``Retry-After``, are left to the ``openai`` package
(``max_retries``). Safe to share between threads: the only state is the ``openai.OpenAI``
client, whose HTTP connection pool is thread-safe.
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Self

import openai
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from openai.types import Model
from openai.types.chat import ChatCompletion

from analysis.ai.errors import (
    AIAuthError,
    AIError,
    AIModelNotFound,
    AINotOpenAI,
    AIOutputInvalid,
    AIRequestTooLong,
    AIUnreachable,
)
from settings_app.registry import OPENAI_API_URL
from settings_app.secrets import redact

# Local servers need no key, but the openai package refuses to start without one.
NO_KEY_PLACEHOLDER = "not-needed"
CHECK_PROMPT = "Reply with OK."
CHECK_MAX_TOKENS = 1
UPSTREAM_MESSAGE_LIMIT = 300
_MENTIONS_MODEL = re.compile(r"\bmodel\b", re.IGNORECASE)
# How servers say a request exceeds the model's context: OpenAI (code
# context_length_exceeded), vLLM ("maximum context length"), llama.cpp ("exceeds the
# available context size"); a proxy answers 413.
_MENTIONS_CONTEXT = re.compile(r"\bcontext[ _](length|size|window)\b", re.IGNORECASE)


@dataclass(frozen=True)
class AIConfig:
    base_url: str | None
    api_key: str | None = field(repr=False)
    model: str
    timeout: float = 60
    max_retries: int = 3


@dataclass(frozen=True)
class AIResult:
    data: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    model: str
    cached_tokens: int = 0  # of prompt_tokens, read from the server's prompt cache


class AIClient:
    def __init__(self, config: AIConfig):
        self.config = config
        # Explicit base URL and key, so the package never falls back to OPENAI_* env vars.
        self._client = openai.OpenAI(
            api_key=config.api_key or NO_KEY_PLACEHOLDER,
            base_url=config.base_url or OPENAI_API_URL,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def complete_json(self, *, system: str, user: str, schema: dict[str, Any],
                      schema_name: str, check: dict[str, Any] | None = None) -> AIResult:
        """One structured-output request; the answer is parsed and validated against
        ``check`` (default ``schema``, the one the server is asked to follow): a caller that
        validates parts of the answer on its own passes a looser one.

        Raises ``AIOutputInvalid`` (with the usage) when the answer is not matching JSON.
        """
        with self._translate_errors():
            response = _openai_answer(self._client.chat.completions.create(
                model=self.config.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": schema_name, "schema": schema, "strict": True},
                },
            ), ChatCompletion)
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        details = usage.prompt_tokens_details if usage else None
        cached_tokens = min(prompt_tokens, (details.cached_tokens if details else None) or 0)
        model = response.model or self.config.model
        choice = response.choices[0] if response.choices else None
        content = choice.message.content if choice else None

        def invalid(reason: str) -> AIOutputInvalid:
            return AIOutputInvalid(
                reason,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cached_tokens=cached_tokens,
                model=model,
                content=content,
            )

        if choice and choice.message.refusal:
            raise invalid(f"The model refused to answer: {_shorten(choice.message.refusal)}")
        if choice is None or not content:
            raise invalid("The model returned an empty answer")
        if choice.finish_reason == "length":
            raise invalid("The answer was cut off at the model's token limit")
        try:
            data = json.loads(content)
        except json.JSONDecodeError as err:
            raise invalid(f"The answer is not valid JSON ({err.msg})") from None
        error = best_match(Draft202012Validator(check or schema).iter_errors(data))
        if error is not None:
            raise invalid(
                f"The answer does not match the schema at {error.json_path}: "
                f"{_shorten(error.message)}"
            )
        return AIResult(
            data=data,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=cached_tokens,
            model=model,
        )

    def check_model(self) -> dict[str, Any]:
        """Prove the server, key and model work: retrieve the model, then a tiny completion."""
        with self._translate_errors():
            model = _openai_answer(self._client.models.retrieve(self.config.model), Model)
            _openai_answer(self._client.chat.completions.create(
                model=self.config.model,
                messages=[{"role": "user", "content": CHECK_PROMPT}],
                max_tokens=CHECK_MAX_TOKENS,
            ), ChatCompletion)
        result = {"model": model.id}
        owned_by = getattr(model, "owned_by", None)
        if owned_by:
            result["owned_by"] = owned_by
        return result

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn ``openai`` exceptions into AIError subclasses with key-free messages."""
        try:
            yield
        except openai.AuthenticationError:
            # No chaining: the upstream message may echo (part of) the key.
            raise AIAuthError("The AI server rejected the API key (HTTP 401)") from None
        except openai.PermissionDeniedError:
            raise AIAuthError("The API key may not use this model or endpoint (HTTP 403)") from None
        except openai.NotFoundError as err:
            upstream = self._upstream_message(err)
            if err.code == "model_not_found" or _MENTIONS_MODEL.search(upstream):
                raise AIModelNotFound(
                    f"The model '{self.config.model}' does not exist on the AI server"
                ) from err
            raise AIError(
                f"The AI server has no OpenAI-compatible API at this base URL (HTTP 404): "
                f"{upstream}"
            ) from err
        except openai.APITimeoutError as err:
            raise AIUnreachable(
                f"The AI server did not answer within {self.config.timeout:g} s"
            ) from err
        except openai.APIConnectionError as err:
            raise AIUnreachable("Could not connect to the AI server; check the base URL") from err
        except openai.RateLimitError as err:
            raise AIError(
                f"The AI server is still rate limiting after retries: {self._upstream_message(err)}"
            ) from err
        except openai.APIStatusError as err:
            if _exceeds_context(err):
                raise AIRequestTooLong(
                    f"The request is longer than the model's context (HTTP {err.status_code}): "
                    f"{self._upstream_message(err)}"
                ) from err
            raise AIError(
                f"The AI server answered HTTP {err.status_code}: {self._upstream_message(err)}"
            ) from err
        except openai.APIResponseValidationError:
            raise AINotOpenAI() from None

    def _upstream_message(self, err: openai.APIStatusError) -> str:
        body = err.body
        message = body.get("message") if isinstance(body, dict) else body
        return redact(_shorten(str(message or f"HTTP {err.status_code}")), (self.config.api_key,))


def _exceeds_context(err: openai.APIStatusError) -> bool:
    return err.status_code == 413 or (err.status_code == 400 and (
        err.code == "context_length_exceeded" or bool(_MENTIONS_CONTEXT.search(err.message))))


def _openai_answer(answer: object, kind: type) -> Any:
    """The answer if the openai package could read it as ``kind``; a server that is not
    OpenAI-compatible (e.g. a web page answering 200 with HTML) comes back as plain text."""
    if not isinstance(answer, kind):
        raise AINotOpenAI()
    return answer


def _shorten(text: str) -> str:
    if len(text) <= UPSTREAM_MESSAGE_LIMIT:
        return text
    return text[: UPSTREAM_MESSAGE_LIMIT - 1] + "…"
