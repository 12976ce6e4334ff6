"""API latency benchmark: GET /api/scenes (each filter, search, sorts) and GET /api/scenes/{id}
over a synced library of --scenes scenes.

    createdb -h 127.0.0.1 -U postgres stashhog_bench
    .venv/bin/python benchmarks/api.py --scenes 100000 \
        --database-url postgres://postgres@127.0.0.1:5432/stashhog_bench

Requests go through Django's test ``Client`` in this process (the full middleware, auth,
DRF, filter and serializer stack; no socket and no server in between). When the database
does not hold --scenes scenes yet, they are synced first from a fake Stash started in its
own process (as benchmarks/sync.py does). Prints median and p95 per case, in ms, the SQL
statements one request of the case runs, and the load average (the machine may be shared).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
GOAL_MS = 20.0  # issue 15: every case, search and deep pages included, on PostgreSQL


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--database-url", default=None,
                        help="default: a SQLite file in a temporary folder")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per case")
    parser.add_argument("--case", default="", help="only the cases whose name contains this")
    return parser.parse_args()


def setup_django(database_url: str | None, data_dir: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "stashhog.settings"
    os.environ["STASHHOG_DATA_DIR"] = data_dir
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{data_dir}/api-bench.sqlite3"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(REPO_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def ensure_library(scenes: int) -> None:
    from benchmarks.sync import FakeStash
    from jobs.runner import start_job
    from scenes.models import Scene
    from scenes.sync import refresh_planner_statistics
    from settings_app.registry import save_settings

    if Scene.objects.count() >= scenes:
        # A reused database may hold rows changed since its sync (benchmarks/sync.py's
        # incremental runs); a server with autovacuum on (the default) would have vacuumed
        # them by now, this machine's PostgreSQL runs without it.
        refresh_planner_statistics()
        return
    print(f"syncing {scenes:,} scenes from a fake Stash first...", flush=True)
    stash = FakeStash(scenes)
    try:
        save_settings({"stash_url": stash.url, "stash_api_key": None})
        start_job("sync", {"incremental": False}, inline=True)
    finally:
        stash.close()


def cases(client, headers: dict) -> list[tuple[str, str, dict]]:
    """(name, path, query) per case, with filter values typical of the library."""
    from django.db.models import Count

    from scenes.models import Performer, Studio, Tag

    studio = Studio.objects.annotate(n=Count("scenes")).order_by("-n").first()
    performer = Performer.objects.annotate(n=Count("scenes")).order_by("-n").first()
    tags = list(Tag.objects.annotate(n=Count("scenes")).order_by("-n")[:2])
    page = {"per_page": 100}
    # Page 200 as a client walking the list reaches it: after page 199's next_cursor.
    cursor = client.get("/api/scenes", {**page, "page": 199}, **headers).json()["next_cursor"]
    return [
        ("unfiltered", "/api/scenes", page),
        ("unfiltered, page=200", "/api/scenes", {**page, "page": 200}),
        ("unfiltered, page 200 by cursor", "/api/scenes", {**page, "cursor": cursor}),
        ("sort title", "/api/scenes", {**page, "sort_by": "title"}),
        ("sort scene_date desc", "/api/scenes",
         {**page, "sort_by": "scene_date", "sort_order": "desc"}),
        ("studio_id", "/api/scenes", {**page, "studio_id": studio.id}),
        ("performer_ids", "/api/scenes", {**page, "performer_ids": performer.id}),
        ("tag_ids (2, ALL)", "/api/scenes", {**page, "tag_ids": f"{tags[0].id},{tags[1].id}"}),
        ("organized=true", "/api/scenes", {**page, "organized": "true"}),
        ("date_from..date_to (1 year)", "/api/scenes",
         {**page, "date_from": "2020-01-01", "date_to": "2020-12-31"}),
        ("search 'golden'", "/api/scenes", {**page, "search": "golden"}),
        ("search 'rivera'", "/api/scenes", {**page, "search": "rivera"}),
        ("search (no match)", "/api/scenes", {**page, "search": "zzzqqq"}),
        ("detail", "/api/scenes/{id}", {}),
        ("performers", "/api/performers", page),
        ("tags by scene_count", "/api/tags", {**page, "sort_by": "scene_count"}),
        ("studios", "/api/studios", page),
    ]


def timed(client, path: str, query: dict, headers: dict) -> float:
    started = time.perf_counter()
    response = client.get(path, query, **headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{path} {query}: HTTP {response.status_code} {response.content[:300]}")
    return elapsed


def queries_of(client, path: str, query: dict, headers: dict) -> int:
    """How many SQL statements one request runs (auth included)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        timed(client, path, query, headers)
    return len(captured)


def load_average() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="stashhog-api-bench-") as data_dir:
        setup_django(args.database_url, data_dir)
        ensure_library(args.scenes)

        import random

        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from rest_framework.authtoken.models import Token

        from scenes.models import Scene

        user, _ = get_user_model().objects.update_or_create(
            username="api-bench", defaults={"is_staff": True})  # the API is for staff
        token, _ = Token.objects.get_or_create(user=user)
        headers = {"HTTP_AUTHORIZATION": f"Token {token.key}", "HTTP_HOST": "127.0.0.1"}
        client = Client()
        scene_ids = list(Scene.objects.values_list("id", flat=True))
        rng = random.Random(0)
        total = Scene.objects.count()
        print(f"\nAPI latency, {connection.vendor}, {total:,} scenes, Django test Client "
              f"in-process, {args.requests} requests per case (after 5 warm-up); "
              f"load average {load_average()} (1/5/15 min)")
        print(f"{'case':32} {'median ms':>10} {'p95 ms':>8} {'queries':>8}  goal")
        for name, path, query in cases(client, headers):
            if args.case not in name:
                continue
            samples = []
            for number in range(args.requests + 5):
                target = path.replace("{id}", rng.choice(scene_ids))
                elapsed = timed(client, target, query, headers)
                if number >= 5:
                    samples.append(elapsed)
            samples.sort()
            median = statistics.median(samples)
            p95 = samples[int(len(samples) * 0.95) - 1]
            queries = queries_of(client, path.replace("{id}", scene_ids[0]), query, headers)
            verdict = "ok" if median <= GOAL_MS else f"MISSED (<= {GOAL_MS:.0f})"
            print(f"{name:32} {median:10.1f} {p95:8.1f} {queries:8}  {verdict}")
        print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
