"""Token prices, in USD per 1M tokens, used to record what each AI call cost.

A plain dict so the settings can override or extend it; models missing from it (local ones
served by Ollama, LM Studio or vLLM) cost nothing.
"""

import re

DEFAULT_PRICES_PER_MILLION: dict[str, dict[str, float]] = {
    "gpt-4o-mini": {"prompt": 0.15, "completion": 0.60},
    "gpt-4o": {"prompt": 2.50, "completion": 10.00},
    "gpt-4.1-nano": {"prompt": 0.10, "completion": 0.40},
    "gpt-4.1-mini": {"prompt": 0.40, "completion": 1.60},
    "gpt-4.1": {"prompt": 2.00, "completion": 8.00},
}

# OpenAI answers with the dated snapshot it used ("gpt-4o-mini-2024-07-18").
_SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def cost_usd(prices: dict, model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """Cost of one call; a dated snapshot is priced as its base model, unknown models as 0."""
    price = prices.get(model) or prices.get(_SNAPSHOT_SUFFIX.sub("", model))
    if not price:
        return 0.0
    return (
        prompt_tokens * float(price["prompt"]) + completion_tokens * float(price["completion"])
    ) / 1_000_000
