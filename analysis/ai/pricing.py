"""Token prices, in USD per 1M tokens, used to record what each AI call cost.

A plain dict so the settings can override or extend it; models missing from it (local ones
served by Ollama, LM Studio or vLLM) cost nothing. ``cached_prompt`` is the price of prompt
tokens the server answered from its prompt cache (``usage.prompt_tokens_details
.cached_tokens``); a model without it is charged the full prompt price for them.
"""

import re

DEFAULT_PRICES_PER_MILLION: dict[str, dict[str, float]] = {
    "gpt-4o-mini": {"prompt": 0.15, "cached_prompt": 0.075, "completion": 0.60},
    "gpt-4o": {"prompt": 2.50, "cached_prompt": 1.25, "completion": 10.00},
    "gpt-4.1-nano": {"prompt": 0.10, "cached_prompt": 0.025, "completion": 0.40},
    "gpt-4.1-mini": {"prompt": 0.40, "cached_prompt": 0.10, "completion": 1.60},
    "gpt-4.1": {"prompt": 2.00, "cached_prompt": 0.50, "completion": 8.00},
}

# OpenAI answers with the dated snapshot it used ("gpt-4o-mini-2024-07-18").
_SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def cost_usd(prices: dict, model: str, prompt_tokens: int, completion_tokens: int,
             cached_tokens: int = 0) -> float:
    """Cost of one call; ``cached_tokens`` are the part of ``prompt_tokens`` read from the
    server's cache. A dated snapshot is priced as its base model, unknown models as 0."""
    price = prices.get(model) or prices.get(_SNAPSHOT_SUFFIX.sub("", model))
    if not price:
        return 0.0
    prompt = float(price["prompt"])
    cached = float(price.get("cached_prompt", prompt))
    return (
        (prompt_tokens - cached_tokens) * prompt + cached_tokens * cached
        + completion_tokens * float(price["completion"])
    ) / 1_000_000
