"""AI proposals for chunks of scenes: one structured request per scene, cached, bounded.

- Requests run on ``ai_concurrency`` threads; the threads only talk HTTP, every database
  read and write stays in the job's own thread.
- Before each request its cost is estimated and reserved; a request that could take the
  total past ``max_cost_usd`` is not sent and the run stops (``stop == "budget"``).
- Answers name entities: a name maps to an id only through the candidates sent with that
  request; otherwise it becomes a new-entity proposal when ``create_missing`` is on (and no
  entity of that name exists), else it is ignored.
- An answer that is not valid against the schema, or a request that failed after the
  client's retries, is recorded as an error of the run (with its cost), never an empty
  answer. Errors that would fail every request (bad key, unknown model, unreachable
  server) stop the run.
"""

import hashlib
import json
import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from analysis.ai import AIClient, AIError, AIOutputInvalid, AIResult, cost_usd
from analysis.ai.errors import AIAuthError, AIModelNotFound, AIUnreachable
from analysis.ai.prompts import (
    AI_FIELDS,
    PROMPT_VERSION,
    SCHEMA_NAME,
    answer_schema,
    system_prompt,
    user_prompt,
)
from analysis.detectors.catalogue import Entity
from analysis.detectors.normalize import normalize, tokenize
from analysis.fields import SceneField
from analysis.library import LibraryIndexes, SceneSnapshot
from analysis.models import AIAnswerCache, ChangeSource
from analysis.options import AnalysisOptions
from analysis.proposals import Finding
from analysis.sources import ChunkOutcome
from jobs.runner import JobCancelled

CANDIDATES_PER_KIND = 15
FATAL_ERRORS = (AIAuthError, AIModelNotFound, AIUnreachable)
# Budget reservations before the first answer: tokenisers average ~4 characters per token
# on this kind of text, 3 leaves room for paths full of digits and punctuation. Later
# reservations use the largest ratio and answer length seen so far, plus a margin.
CHARS_PER_TOKEN_ESTIMATE = 3
INITIAL_COMPLETION_ESTIMATE = 300
ESTIMATE_MARGIN = 1.1
ERRORS_KEPT = 50


@dataclass
class AIUsage:
    """What one run's AI work cost, recorded on the plan and the job."""

    requests: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    error_samples: list[dict[str, Any]] = field(default_factory=list)

    def record_error(self, scene_id: str, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < ERRORS_KEPT:
            self.error_samples.append({"scene_id": scene_id, "error": message})

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "cache_hits": self.cache_hits, "errors": self.errors,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


def _names(scene_field: SceneField, value: Any) -> str | list[str] | None:
    """A current entity value as the prompt shows it: names only."""
    names = [item["name"] for item in scene_field.entity_items(value)]
    return names if scene_field.entity_kind.many else next(iter(names), None)


@dataclass(frozen=True)
class _Request:
    scene: SceneSnapshot
    key: str
    user: str
    candidates: dict[str, list[Entity]]


# A request and the AI answer to cache for it.
_Answer = tuple[_Request, AIResult]


class AIAnalyser:
    def __init__(self, client: AIClient, indexes: LibraryIndexes, options: AnalysisOptions, *,
                 prices: dict[str, Any], concurrency: int):
        self.client = client
        self.model = client.config.model
        self.indexes = indexes
        self.options = options
        self.prices = prices
        self.concurrency = concurrency
        self.usage = AIUsage()
        self.fields = tuple(f for f in AI_FIELDS if options.detects(f))
        self.system = system_prompt(options.create_missing)
        self.schema = answer_schema(self.fields)
        self._tokens_per_char: float | None = None
        self._largest_completion: int | None = None
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="analysis-ai")

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    @property
    def enabled(self) -> bool:
        return bool(self.fields)

    def prepare(self, scene: SceneSnapshot) -> _Request:
        text = " ".join(part for part in (scene.path, scene.title) if part)
        candidates = {
            f.name: self.indexes[f.entity_kind].candidates(text, CANDIDATES_PER_KIND)
            for f in self.fields
        }
        scene_data = {
            "path": scene.path,
            "title": scene.title or None,
            "current": {f.name: _names(f, scene.values[f.name]) for f in AI_FIELDS},
        }
        listed = {
            name: [{"name": e.name, "aliases": list(e.aliases)} for e in entities]
            for name, entities in candidates.items()
        }
        user = user_prompt(scene_data, listed)
        key = hashlib.sha256(json.dumps(
            [PROMPT_VERSION, self.model, scene.id, scene.updated_at,
             [f.name for f in self.fields],
             self.options.create_missing, self.system, user, self.schema],
            sort_keys=True,
        ).encode()).hexdigest()
        return _Request(scene, key, user, candidates)

    def analyse(self, scenes: list[SceneSnapshot],
                check_cancelled: Callable[[], None]) -> ChunkOutcome:
        """AI findings for as many of ``scenes`` as the budget allows (cache hits are free)."""
        requests = [self.prepare(scene) for scene in scenes]
        cached = {
            row.scene_id: row
            for row in AIAnswerCache.objects.filter(scene_id__in=[r.scene.id for r in requests])
        }
        outcome = ChunkOutcome(findings={})
        pending: deque[_Request] = deque()
        for request in requests:
            hit = cached.get(request.scene.id)
            if hit is not None and hit.request_key == request.key:
                self.usage.cache_hits += 1
                outcome.findings[request.scene.id] = self.findings(request, hit.answer)
            else:
                pending.append(request)
        answers = self._run(pending, outcome, check_cancelled)
        self._store(answers)
        return outcome

    def _run(self, pending: deque[_Request], outcome: ChunkOutcome,
             check_cancelled: Callable[[], None]) -> list[_Answer]:
        in_flight: dict[Future[AIResult], tuple[_Request, float]] = {}
        reserved = 0.0
        answers: list[_Answer] = []
        while pending or in_flight:
            while pending and len(in_flight) < self.concurrency and not (
                outcome.stop or outcome.fatal
            ):
                estimate = self._estimate(pending[0])
                if self.usage.cost_usd + reserved + estimate > self.options.max_cost_usd:
                    # What is in flight may cost less than reserved: decide once it settled.
                    if not in_flight:
                        outcome.stop = "budget"
                    break
                request = pending.popleft()
                reserved += estimate
                future = self._executor.submit(
                    self.client.complete_json, system=self.system, user=request.user,
                    schema=self.schema, schema_name=SCHEMA_NAME,
                )
                in_flight[future] = (request, estimate)
            if outcome.stop or outcome.fatal:
                pending.clear()
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                request, estimate = in_flight.pop(future)
                reserved -= estimate
                answer = self._settle(request, future, outcome)
                if answer is not None:
                    answers.append(answer)
            try:
                check_cancelled()
            except JobCancelled:
                outcome.stop = "cancelled"
        return answers

    def _settle(self, request: _Request, future: Future[AIResult],
                outcome: ChunkOutcome) -> _Answer | None:
        """Record one finished request; the (request, result) pair to cache, if valid."""
        scene_id = request.scene.id
        self.usage.requests += 1
        try:
            result = future.result()
        except AIOutputInvalid as exc:
            self._charge(exc.model, exc.prompt_tokens, exc.completion_tokens)
            self.usage.record_error(scene_id, str(exc))
            outcome.findings[scene_id] = []
            return None
        except FATAL_ERRORS as exc:
            self.usage.record_error(scene_id, str(exc))
            outcome.fatal = outcome.fatal or exc
            return None
        except AIError as exc:
            self.usage.record_error(scene_id, str(exc))
            outcome.findings[scene_id] = []
            return None
        self._charge(result.model, result.prompt_tokens, result.completion_tokens)
        self._observe(request, result.prompt_tokens, result.completion_tokens)
        outcome.findings[scene_id] = self.findings(request, result.data)
        return request, result

    def _charge(self, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.usage.prompt_tokens += prompt_tokens
        self.usage.completion_tokens += completion_tokens
        self.usage.cost_usd += cost_usd(self.prices, model, prompt_tokens, completion_tokens)

    def _characters(self, request: _Request) -> int:
        return len(self.system) + len(request.user)

    def _observe(self, request: _Request, prompt_tokens: int, completion_tokens: int) -> None:
        ratio = prompt_tokens / max(1, self._characters(request))
        self._tokens_per_char = max(self._tokens_per_char or 0.0, ratio)
        self._largest_completion = max(self._largest_completion or 0, completion_tokens)

    def _estimate(self, request: _Request) -> float:
        """What the request may cost, on the high side (reserved against the budget)."""
        ratio = self._tokens_per_char or 1 / CHARS_PER_TOKEN_ESTIMATE
        completion = self._largest_completion or INITIAL_COMPLETION_ESTIMATE
        prompt_tokens = math.ceil(self._characters(request) * ratio)
        return cost_usd(self.prices, self.model, prompt_tokens, completion) * ESTIMATE_MARGIN

    def _store(self, answers: list[_Answer]) -> None:
        if not answers:
            return
        AIAnswerCache.objects.bulk_create(
            [
                AIAnswerCache(scene_id=request.scene.id, request_key=request.key,
                              model=result.model, answer=result.data)
                for request, result in answers
            ],
            update_conflicts=True, unique_fields=["scene_id"],
            update_fields=["request_key", "model", "answer", "created_at"],
        )

    def findings(self, request: _Request, answer: dict[str, Any]) -> list[Finding]:
        found = []
        for scene_field in self.fields:
            for proposal in scene_field.entity_items(answer.get(scene_field.name)):
                finding = self._finding(request, scene_field, proposal)
                if finding is not None:
                    found.append(finding)
        return found

    def _finding(self, request: _Request, scene_field: SceneField, proposal: dict[str, Any]
                 ) -> Finding | None:
        name = " ".join(proposal["name"].split())
        wanted = normalize(name)
        if not wanted:
            return None
        matches = {
            entity.id: entity for entity in request.candidates[scene_field.name]
            if wanted in {normalize(text) for text in (entity.name, *entity.aliases)}
        }
        confidence = round(float(proposal["confidence"]), 3)
        reason = proposal["reason"].strip() or "named by the AI"
        if len(matches) == 1:
            entity = next(iter(matches.values()))
            return Finding(scene_field.name, entity.id, entity.name, confidence, reason,
                           ChangeSource.AI)
        if matches or not self.options.create_missing or self._exists(scene_field, wanted):
            return None  # ambiguous, not allowed, or an existing entity we did not offer
        return Finding(scene_field.name, None, name, confidence, f"new: {reason}",
                       ChangeSource.AI)

    def _exists(self, scene_field: SceneField, normalized: str) -> bool:
        """Whether the whole name is a known name or alias (creating it would duplicate)."""
        tokens = tokenize(normalized)
        index = self.indexes[scene_field.entity_kind]
        return any(m.start == 0 and m.end == len(tokens) for m in index.find(tokens))
