"""The AI client: structured completions from any OpenAI-compatible server, and their cost."""

from analysis.ai.client import AIClient, AIConfig, AIResult
from analysis.ai.errors import (
    AIAuthError,
    AIError,
    AIModelNotFound,
    AINotOpenAI,
    AIOutputInvalid,
    AIRequestTooLong,
    AIUnreachable,
)
from analysis.ai.pricing import DEFAULT_PRICES_PER_MILLION, cost_usd

__all__ = [
    "DEFAULT_PRICES_PER_MILLION",
    "AIAuthError",
    "AIClient",
    "AIConfig",
    "AIError",
    "AIModelNotFound",
    "AINotOpenAI",
    "AIOutputInvalid",
    "AIRequestTooLong",
    "AIResult",
    "AIUnreachable",
    "cost_usd",
]
