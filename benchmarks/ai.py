"""AI analysis benchmark: scenes per request against the fake OpenAI server at 1 s latency.

Syncs a generated library (tests.fakes.stash_library, with the catalogue of a 100,000-scene
library) into a throwaway SQLite database, then for each batch size analyses every scene
with AI on one worker (the job body in this process, ``--concurrency`` requests in flight)
against the fake OpenAI server, whose answers come from each scene's own path and title
(``content_answer``) after ``--latency`` seconds. Prints per batch size: scenes per second
(the whole job), requests, prompt (and cached) and completion tokens per scene, cost per
1,000 scenes at gpt-4o-mini list prices, scenes skipped (settled by their path), precision
and recall of studio and performer proposals against ``library.truth`` (as
benchmarks/analysis.py scores them), and what 100,000 scenes would take.

Goals at 1 s latency and 8 requests in flight: >= 30 scenes/s; <= 300 prompt tokens per
scene; 100,000 scenes in <= 1 hour and <= $5; precision and recall within one point of
batch size 1.

    .venv/bin/python benchmarks/ai.py [--scenes 800] [--batch-sizes 1,4,8,16]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.analysis import QuietProgress, parameters, reset_database, score, sync  # noqa: E402, I001

from django.core.management import call_command  # noqa: E402

from analysis.generate import run_analysis  # noqa: E402
from analysis.models import AIAnswerCache, AnalysisPlan  # noqa: E402
from settings_app.registry import save_settings  # noqa: E402
from tests.fakes.openai import FakeOpenAIServer, content_answer, scene_responder  # noqa: E402
from tests.fakes.stash_library import TAG_NAMES, generate_library  # noqa: E402

LIBRARY_SCENES = 100_000
# The catalogue generate_library gives a 100,000-scene library.
PERFORMERS, STUDIOS = LIBRARY_SCENES // 40, 300


def run(batch_size: int, server: FakeOpenAIServer, library, concurrency: int) -> dict:
    AIAnswerCache.objects.all().delete()
    save_settings({"ai_batch_size": batch_size, "ai_concurrency": concurrency})
    requests_before = server.request_count
    started = time.perf_counter()
    result = run_analysis(QuietProgress(), parameters(use_ai=True, detect_details=False,
                                                      max_cost_usd=1000.0))
    seconds = time.perf_counter() - started
    plan = AnalysisPlan.objects.get(pk=result["plan_id"])
    ai = plan.metadata["ai"]
    scenes = result["counts"]["scenes_analysed"]
    return {
        "batch": batch_size, "scenes": scenes, "per_second": scenes / seconds,
        "requests": server.request_count - requests_before,
        "prompt": ai["prompt_tokens"] / scenes, "cached": ai["cached_prompt_tokens"] / scenes,
        "completion": ai["completion_tokens"] / scenes,
        "per_1000": ai["cost_usd"] / scenes * 1000, "skipped": ai["scenes_skipped"],
        "retries": ai["retries"], "errors": ai["errors"], "score": score(library, plan),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenes", type=int, default=800)
    parser.add_argument("--batch-sizes", default="1,4,8,16")
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    reset_database()
    library = generate_library(args.scenes, performers=PERFORMERS, studios=STUDIOS,
                               tags=len(TAG_NAMES), seed=args.seed)
    sync(library)
    print(f"library: {args.scenes} scenes, {PERFORMERS:,} performers, {STUDIOS} studios, "
          f"{len(TAG_NAMES)} tags; fake OpenAI at {args.latency:g} s latency, "
          f"{args.concurrency} requests in flight, gpt-4o-mini prices\n")
    print(f"{'batch':>5} {'scenes/s':>8} {'requests':>8} {'prompt/sc':>9} {'cached/sc':>9} "
          f"{'compl/sc':>8} {'$/1k sc':>8} {'skipped':>7} {'retry':>5} "
          f"{'studio P/R':>11} {'perf P/R':>11} {'100k: h':>7} {'100k: $':>7}")
    with FakeOpenAIServer(responder=scene_responder(content_answer),
                          latency=args.latency) as server:
        save_settings({"openai_base_url": server.base_url, "openai_api_key": None,
                       "openai_model": "gpt-4o-mini"})
        for batch_size in (int(size) for size in args.batch_sizes.split(",")):
            r = run(batch_size, server, library, args.concurrency)
            studio, performers = r["score"]["studio"], r["score"]["performers"]
            print(f"{r['batch']:>5} {r['per_second']:>8.1f} {r['requests']:>8} "
                  f"{r['prompt']:>9.0f} {r['cached']:>9.0f} {r['completion']:>8.0f} "
                  f"{r['per_1000']:>8.4f} {r['skipped']:>7} {r['retries']:>5} "
                  f"{studio['precision']:>5.3f}/{studio['recall']:.3f} "
                  f"{performers['precision']:>5.3f}/{performers['recall']:.3f} "
                  f"{LIBRARY_SCENES / r['per_second'] / 3600:>7.2f} "
                  f"{r['per_1000'] * LIBRARY_SCENES / 1000:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
