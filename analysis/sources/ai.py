"""The ``ai`` source: entities an OpenAI-compatible model names for each scene
(``analysis.ai_analysis`` does the work; this opens it with the effective settings)."""

import math
from collections.abc import Callable
from typing import Any

from analysis.ai import DEFAULT_PRICES_PER_MILLION, AIClient, AIConfig
from analysis.ai_analysis import AIAnalyser, AIUsage
from analysis.budget import SharedBudget
from analysis.library import LibraryIndexes, SceneSnapshot
from analysis.models import ChangeSource
from analysis.options import AnalysisOptions
from analysis.sources import ChunkOutcome, ProposalSource
from settings_app import get_setting

# A chunk is also the unit of progress and of the cancel check between requests.
AI_SCENE_CHUNK = 50


def ai_client_from_settings() -> AIClient:
    """The one AI client, for the effective base URL, key and model (read per job)."""
    return AIClient(AIConfig(
        base_url=get_setting("openai_base_url"),
        api_key=get_setting("openai_api_key"),
        model=get_setting("openai_model"),
    ))


def ai_prices() -> dict[str, Any]:
    return {**DEFAULT_PRICES_PER_MILLION, **(get_setting("ai_prices") or {})}


class AIRun:
    """The analyser of one job; ``usage`` is what the job's AI work cost so far."""

    def __init__(self, analyser: AIAnalyser) -> None:
        self.analyser = analyser
        self.model = analyser.model
        # A chunk fills every request slot a whole number of times (scenes_per_round): a
        # last round with idle slots would still wait as long as a full one.
        rounds = math.ceil(AI_SCENE_CHUNK / analyser.scenes_per_round)
        self.chunk_size = rounds * analyser.scenes_per_round

    @property
    def usage(self) -> AIUsage:
        return self.analyser.usage

    def analyse(self, scenes: list[SceneSnapshot],
                check_cancelled: Callable[[], None]) -> ChunkOutcome:
        return self.analyser.analyse(scenes, check_cancelled)

    def metadata(self) -> dict[str, Any]:
        return {"model": self.model, **self.usage.as_dict()}

    def notes(self) -> list[str]:
        return []

    def close(self) -> None:
        self.analyser.close()


def open_ai(indexes: LibraryIndexes, options: AnalysisOptions,
            budget: SharedBudget) -> AIRun | None:
    analyser = AIAnalyser(
        ai_client_from_settings(), indexes, options,
        prices=ai_prices(), concurrency=get_setting("ai_concurrency"),
        batch_size=get_setting("ai_batch_size"), budget=budget,
    )
    if not analyser.enabled:  # only details asked for: no model needed
        analyser.close()
        return None
    return AIRun(analyser)


AI_SOURCE = ProposalSource(
    name=ChangeSource.AI, open=open_ai, setting="analysis_use_ai", remote=True,
    option_help="Ask the AI (OpenAI-compatible API) which studio, performers and tags each "
    "scene has. Default: analysis_use_ai.",
)
