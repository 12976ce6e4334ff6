"""AI proposals for chunks of scenes: several scenes per structured request, cached, bounded.

- A scene whose path proposals already settle every requested field (at or above the
  confidence threshold) is not sent (option ``skip_settled``, with the path source on); the
  others are asked only for the fields still open. A list field counts as settled once
  the path names one of its entities: paths that name people name all of them.
- Scenes go ``ai_batch_size`` to a request, which carries the instructions and the
  candidate shortlist once for all of them. Requests run on ``ai_concurrency`` threads; the
  threads only talk HTTP, every database read and write stays in the job's own thread.
- Each item of an answer is keyed by scene id and validated on its own. A scene whose item
  is missing or invalid, or whose request's whole answer was unusable, is asked again alone
  (once), so one bad item never costs its neighbours their answers; only a scene asked
  alone that still gets no valid answer is an error of the run (recorded with its cost,
  never an empty answer).
- Before each request its cost is estimated and reserved in the run's shared budget
  (``analysis.budget``: one for all chunks on all workers); a request that could take the
  total past ``max_cost_usd`` is not sent and every chunk stops (``stop == "budget"``). Prompt
  tokens the server read from its cache are charged at the cached price.
- Answers name entities: a name maps to an id only through the candidates chosen for that
  scene (not its neighbours'); otherwise it becomes a new-entity proposal when
  ``create_missing`` is on (and no entity of that name exists), else it is ignored.
- Errors that would fail every request (bad key, unknown model, unreachable server) stop the
  run; other failed requests are errors of their scenes.
"""

import hashlib
import json
import math
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from analysis.ai import AIClient, AIError, AIOutputInvalid, AIRequestTooLong, AIResult, cost_usd
from analysis.ai.errors import AIAuthError, AIModelNotFound, AIUnreachable
from analysis.ai.prompts import (
    AI_FIELDS,
    ENVELOPE_SCHEMA,
    PROMPT_VERSION,
    SCENES_KEY,
    SCHEMA_NAME,
    answer_schema,
    item_validator_schema,
    system_prompt,
    user_prompt,
)
from analysis.budget import SharedBudget
from analysis.detectors.catalogue import Entity
from analysis.detectors.normalize import normalize, tokenize
from analysis.fields import SceneField
from analysis.library import LibraryIndexes, SceneSnapshot
from analysis.models import AIAnswerCache, ChangeSource
from analysis.options import AnalysisOptions
from analysis.proposals import Finding
from analysis.sources import ChunkOutcome
from analysis.sources.path import path_findings
from jobs.runner import JobCancelled

# Per scene and asked field; the batch's shared list is the union of its scenes' lists.
CANDIDATES_PER_KIND = 6
FATAL_ERRORS = (AIAuthError, AIModelNotFound, AIUnreachable)
# Budget reservations before the first answer: tokenisers average ~4 characters per token
# on this kind of text, 3 leaves room for paths full of digits and punctuation. Later
# reservations use the largest ratio and answer length (per scene) seen so far, plus a
# margin.
CHARS_PER_TOKEN_ESTIMATE = 3
INITIAL_COMPLETION_ESTIMATE = 150  # tokens per scene
ESTIMATE_MARGIN = 1.1
ERRORS_KEPT = 50


@dataclass
class AIUsage:
    """What one run's AI work cost, recorded on the plan and the job (plain counters, so the
    usages of several chunks add up)."""

    requests: int = 0
    cache_hits: int = 0
    skipped: int = 0  # scenes whose path settled every field: not sent
    retries: int = 0  # scenes asked again alone after a bad or missing item
    errors: int = 0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens, read from the server's prompt cache
    completion_tokens: int = 0
    cost_usd: float = 0.0
    error_samples: list[dict[str, Any]] = field(default_factory=list)

    def record_error(self, scene_id: str, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < ERRORS_KEPT:
            self.error_samples.append({"scene_id": scene_id, "error": message})

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "cache_hits": self.cache_hits,
            "scenes_skipped": self.skipped, "retries": self.retries, "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "completion_tokens": self.completion_tokens, "cost_usd": round(self.cost_usd, 6),
        }


def _names(scene_field: SceneField, value: Any) -> str | list[str] | None:
    """A current entity value as the prompt shows it: names only."""
    names = [item["name"] for item in scene_field.entity_items(value)]
    return names if scene_field.entity_kind.many else next(iter(names), None)


def _listed(entities: Iterable[Entity]) -> list[list[str]]:
    return [[entity.name, *entity.aliases] for entity in entities]


@dataclass(frozen=True)
class _Scene:
    """One scene's part of a request: what is asked, and the candidates its names map to."""

    snapshot: SceneSnapshot
    fields: tuple[SceneField, ...]
    key: str  # of its cached answer
    data: dict[str, Any]
    candidates: dict[str, list[Entity]]

    @property
    def id(self) -> str:
        return self.snapshot.id


@dataclass(frozen=True)
class _Request:
    scenes: tuple[_Scene, ...]
    user: str


# A scene and the AI answer item (and model) to cache for it.
_Answer = tuple[_Scene, dict[str, Any], str]


class AIAnalyser:
    def __init__(self, client: AIClient, indexes: LibraryIndexes, options: AnalysisOptions, *,
                 prices: dict[str, Any], concurrency: int, batch_size: int,
                 budget: SharedBudget):
        self.client = client
        self.budget = budget
        self.model = client.config.model
        self.indexes = indexes
        self.options = options
        self.prices = prices
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.usage = AIUsage()
        self.fields = tuple(f for f in AI_FIELDS if options.detects(f))
        self.system = system_prompt(options.create_missing)
        self.schema = answer_schema(self.fields)
        self._item_validator = Draft202012Validator(item_validator_schema(self.fields))
        self._tokens_per_char: float | None = None
        self._largest_completion: float | None = None  # per scene
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="analysis-ai")

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    @property
    def enabled(self) -> bool:
        return bool(self.fields)

    @property
    def scenes_per_round(self) -> int:
        """Scenes that fill every request slot once: a chunk smaller than this leaves
        slots idle."""
        return self.batch_size * self.concurrency

    def open_fields(self, scene: SceneSnapshot) -> tuple[SceneField, ...]:
        """The fields to ask about: those no path proposal settles (all without
        ``skip_settled`` or the path source). The path source finds the same for the plan:
        running its detectors twice costs far less than one request."""
        if not (self.options.skip_settled and self.options.uses(ChangeSource.PATH)):
            return self.fields
        settled = {f.field for f in path_findings(scene, self.indexes, self.options)
                   if f.confidence >= self.options.confidence_threshold}
        return tuple(f for f in self.fields if f.name not in settled)

    def prepare(self, scene: SceneSnapshot) -> _Scene | None:
        """The scene's part of a request, or None when nothing is left to ask."""
        fields = self.open_fields(scene)
        if not fields:
            return None
        text = " ".join(part for part in (scene.path, scene.title) if part)
        candidates = {
            f.name: self.indexes[f.entity_kind].candidates(text, CANDIDATES_PER_KIND)
            for f in fields
        }
        data: dict[str, Any] = {"id": scene.id, "path": scene.path}
        if scene.title:
            data["title"] = scene.title
        has = {f.name: names for f in fields if (names := _names(f, scene.values[f.name]))}
        if has:
            data["has"] = has
        data["ask"] = [f.name for f in fields]
        key = hashlib.sha256(json.dumps(
            [PROMPT_VERSION, self.model, scene.updated_at, self.options.create_missing,
             self.system, self.schema, data,
             {name: _listed(entities) for name, entities in candidates.items()}],
            sort_keys=True,
        ).encode()).hexdigest()
        return _Scene(scene, fields, key, data, candidates)

    def _request(self, scenes: list[_Scene]) -> _Request:
        """One request for ``scenes``: their candidate lists merged into one shortlist."""
        shared: dict[str, dict[str, Entity]] = {}
        for scene in scenes:
            for name, entities in scene.candidates.items():
                for entity in entities:
                    shared.setdefault(name, {}).setdefault(entity.id, entity)
        listed = {f.name: _listed(shared[f.name].values()) for f in self.fields
                  if shared.get(f.name)}
        return _Request(tuple(scenes), user_prompt([s.data for s in scenes], listed))

    def analyse(self, scenes: list[SceneSnapshot],
                check_cancelled: Callable[[], None]) -> ChunkOutcome:
        """AI findings for as many of ``scenes`` (any subset of the selection) as the budget
        allows (cache hits are free)."""
        outcome = ChunkOutcome(findings={})
        asked: list[_Scene] = []
        for snapshot in scenes:
            prepared = self.prepare(snapshot)
            if prepared is None:
                self.usage.skipped += 1
                outcome.findings[snapshot.id] = []
            else:
                asked.append(prepared)
        cached = {
            row.scene_id: row
            for row in AIAnswerCache.objects.filter(scene_id__in=[s.id for s in asked])
        }
        unanswered = []
        for scene in asked:
            hit = cached.get(scene.id)
            if hit is not None and hit.request_key == scene.key:
                self.usage.cache_hits += 1
                outcome.findings[scene.id] = self.findings(scene, hit.answer)
            else:
                unanswered.append(scene)
        pending = deque(
            self._request(unanswered[start:start + self.batch_size])
            for start in range(0, len(unanswered), self.batch_size)
        )
        answers = self._run(pending, outcome, check_cancelled)
        self._store(answers)
        return outcome

    def _run(self, pending: deque[_Request], outcome: ChunkOutcome,
             check_cancelled: Callable[[], None]) -> list[_Answer]:
        in_flight: dict[Future[AIResult], tuple[_Request, float]] = {}
        answers: list[_Answer] = []
        while pending or in_flight:
            while pending and len(in_flight) < self.concurrency and not (
                outcome.stop or outcome.fatal
            ):
                estimate = self._estimate(pending[0])
                if not self.budget.reserve(estimate):
                    # What is in flight may cost less than reserved: decide once it settled.
                    if not in_flight:
                        outcome.stop = "budget"
                        self.budget.mark_reached()
                    break
                request = pending.popleft()
                future = self._executor.submit(
                    self.client.complete_json, system=self.system, user=request.user,
                    schema=self.schema, schema_name=SCHEMA_NAME, check=ENVELOPE_SCHEMA,
                )
                in_flight[future] = (request, estimate)
            if outcome.stop or outcome.fatal:
                pending.clear()
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                request, estimate = in_flight.pop(future)
                spent_before = self.usage.cost_usd
                answers += self._settle(request, future, outcome, pending)
                self.budget.settle(estimate, self.usage.cost_usd - spent_before)
            try:
                check_cancelled()
            except JobCancelled:
                outcome.stop = "cancelled"
        return answers

    def _settle(self, request: _Request, future: Future[AIResult], outcome: ChunkOutcome,
                pending: deque[_Request]) -> list[_Answer]:
        """Record one finished request; the valid answers to cache. Scenes to ask again
        alone go to the front of ``pending``."""
        self.usage.requests += 1
        try:
            result = future.result()
        except (AIOutputInvalid, AIRequestTooLong) as exc:  # each scene alone may do
            if isinstance(exc, AIOutputInvalid):  # the model answered: it is billed
                self._charge(exc.model, exc.prompt_tokens, exc.completion_tokens,
                             exc.cached_tokens)
            self._failed(request, [(scene, str(exc)) for scene in request.scenes], outcome,
                         pending)
            return []
        except FATAL_ERRORS as exc:
            for scene in request.scenes:
                self.usage.record_error(scene.id, str(exc))
            outcome.fatal = outcome.fatal or exc
            return []
        except AIError as exc:  # failed after the client's retries: asking again won't help
            for scene in request.scenes:
                self.usage.record_error(scene.id, str(exc))
                outcome.findings[scene.id] = []
            return []
        self._charge(result.model, result.prompt_tokens, result.completion_tokens,
                     result.cached_tokens)
        self._observe(request, result)
        items: dict[str, Any] = {}
        for item in result.data[SCENES_KEY]:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                items.setdefault(item["id"], item)
        answers: list[_Answer] = []
        failed: list[tuple[_Scene, str]] = []
        for scene in request.scenes:
            problem = self._item_problem(items.get(scene.id))
            if problem:
                failed.append((scene, problem))
            else:
                outcome.findings[scene.id] = self.findings(scene, items[scene.id])
                answers.append((scene, items[scene.id], result.model))
        self._failed(request, failed, outcome, pending)
        return answers

    def _item_problem(self, item: Any) -> str | None:
        if item is None:
            return "The answer has no item for this scene"
        error = best_match(self._item_validator.iter_errors(item))
        if error is None:
            return None
        return f"The scene's answer does not match the schema at {error.json_path}: " \
               f"{error.message[:200]}"

    def _failed(self, request: _Request, failed: list[tuple[_Scene, str]],
                outcome: ChunkOutcome, pending: deque[_Request]) -> None:
        """Scenes asked with others are asked again alone, next; a scene asked alone has
        failed."""
        if len(request.scenes) > 1:
            self.usage.retries += len(failed)
            pending.extendleft(self._request([scene]) for scene, _ in reversed(failed))
            return
        for scene, problem in failed:
            self.usage.record_error(scene.id, problem)
            outcome.findings[scene.id] = []

    def _charge(self, model: str, prompt_tokens: int, completion_tokens: int,
                cached_tokens: int) -> None:
        self.usage.prompt_tokens += prompt_tokens
        self.usage.cached_prompt_tokens += cached_tokens
        self.usage.completion_tokens += completion_tokens
        self.usage.cost_usd += cost_usd(self.prices, model, prompt_tokens, completion_tokens,
                                        cached_tokens)

    def _characters(self, request: _Request) -> int:
        return len(self.system) + len(request.user)

    def _observe(self, request: _Request, result: AIResult) -> None:
        ratio = result.prompt_tokens / max(1, self._characters(request))
        self._tokens_per_char = max(self._tokens_per_char or 0.0, ratio)
        per_scene = result.completion_tokens / len(request.scenes)
        self._largest_completion = max(self._largest_completion or 0.0, per_scene)

    def _estimate(self, request: _Request) -> float:
        """What the request may cost, on the high side (reserved against the budget; as if
        nothing came from the server's cache)."""
        ratio = self._tokens_per_char or 1 / CHARS_PER_TOKEN_ESTIMATE
        completion = (self._largest_completion or INITIAL_COMPLETION_ESTIMATE) \
            * len(request.scenes)
        prompt_tokens = math.ceil(self._characters(request) * ratio)
        return cost_usd(self.prices, self.model, prompt_tokens,
                        math.ceil(completion)) * ESTIMATE_MARGIN

    def _store(self, answers: list[_Answer]) -> None:
        if not answers:
            return
        AIAnswerCache.objects.bulk_create(
            [
                AIAnswerCache(scene_id=scene.id, request_key=scene.key, model=model,
                              answer=item)
                for scene, item, model in answers
            ],
            update_conflicts=True, unique_fields=["scene_id"],
            update_fields=["request_key", "model", "answer", "created_at"],
        )

    def findings(self, scene: _Scene, answer: dict[str, Any]) -> list[Finding]:
        """Findings of the fields the scene was asked (anything else answered is ignored)."""
        found = []
        for scene_field in scene.fields:
            for proposal in scene_field.entity_items(answer.get(scene_field.name)):
                finding = self._finding(scene, scene_field, proposal)
                if finding is not None:
                    found.append(finding)
        return found

    def _finding(self, scene: _Scene, scene_field: SceneField, proposal: dict[str, Any]
                 ) -> Finding | None:
        name = " ".join(proposal["name"].split())
        wanted = normalize(name)
        if not wanted:
            return None
        matches = {
            entity.id: entity for entity in scene.candidates[scene_field.name]
            if wanted in {normalize(text) for text in (entity.name, *entity.aliases)}
        }
        confidence = round(float(proposal["confidence"]), 3)
        reason = f"seen in the {proposal['seen_in']}"
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
