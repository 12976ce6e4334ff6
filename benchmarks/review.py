"""Review benchmark: a plan of 10,000 changes over 2,000 scenes, reviewed in the admin and
over the API.

    .venv/bin/python benchmarks/review.py
    .venv/bin/python benchmarks/review.py --scenes 2000 \
        --database-url postgres://postgres@127.0.0.1:5432/stashhog_bench

Requests go through Django's test ``Client`` in this process (middleware, session or token
auth, admin or DRF, templates; no socket). The library and the plan are written straight to
a fresh database: five changes per scene (studio, performers, tags, details, a removal),
sources and confidences spread so that every filter selects a part.

Prints, per case, the median and p95 in ms and the queries per request:
- the admin review screen, one page of 50 scenes (first page, a later page, filtered,
  searched) -- goal: median <= 300 ms on SQLite, the same query count on every page;
- ``GET /api/analysis/plans/{id}/changes`` (100 a page) and the paged plan detail;
- ``POST .../bulk-review`` with filters ("path performers >= 0.9") and over the whole
  plan -- goal: <= 1 s each.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
PAGE_GOAL_MS = 300.0
BULK_GOAL_MS = 1000.0
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--database-url", default=None,
                        help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per case")
    return parser.parse_args()


def setup_django(database_url: str | None, data_dir: str) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "stashhog.settings",
        "STASHHOG_DATA_DIR": data_dir,
        "DATABASE_URL": database_url or f"sqlite:///{data_dir}/review-bench.sqlite3",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "LOG_LEVEL": "WARNING",
    })
    sys.path.insert(0, str(REPO_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(scenes: int):
    """The library and a plan of five changes per scene; returns the plan."""
    from analysis.models import AnalysisPlan, PlanChange
    from scenes.models import Performer, Scene, SceneFile, Studio, Tag

    AnalysisPlan.objects.all().delete()
    for model in (Scene, Performer, Tag, Studio):
        model.objects.all().delete()
    studios = Studio.objects.bulk_create(
        Studio(id=str(n), name=f"Studio {n}", last_synced=NOW) for n in range(1, 51))
    performers = Performer.objects.bulk_create(
        Performer(id=str(n), name=f"Performer {n}", last_synced=NOW) for n in range(1, 501))
    tags = Tag.objects.bulk_create(Tag(id=str(n), name=f"Tag {n}", last_synced=NOW)
                                   for n in range(1, 201))
    Scene.objects.bulk_create(
        (Scene(id=str(n), title="" if n % 4 == 0 else f"Scene number {n}",
               details=f"<p>Details of {n}</p>", created_date=NOW, stash_updated_at=NOW,
               last_synced=NOW, search_text=f"scene number {n}")
         for n in range(1, scenes + 1)), batch_size=2000)
    SceneFile.objects.bulk_create(
        (SceneFile(id=str(n), scene_id=str(n), primary=True,
                   path=f"/media/Studio {n % 50 + 1}/Performer {n % 500 + 1} - clip {n}.mp4")
         for n in range(1, scenes + 1)), batch_size=2000)
    plan = AnalysisPlan.objects.create(name="review benchmark")

    def entity(item):
        return {"id": item.id, "name": item.name}

    rows = []
    for n in range(1, scenes + 1):
        scene = {"plan": plan, "scene_id": str(n),
                 "scene_title": "" if n % 4 == 0 else f"Scene number {n}", "reason": "bench"}
        spread = (n % 10) / 10  # 0.0 .. 0.9
        rows += [
            PlanChange(**scene, field="studio", action="set", current_value=None,
                       proposed_value=entity(studios[n % 50]), confidence=0.5 + spread / 2,
                       source="path"),
            PlanChange(**scene, field="performers", action="add", current_value=[],
                       proposed_value=[entity(performers[n % 500]),
                                       {"id": None, "name": f"New {n % 7}"}],
                       confidence=0.55 + spread / 2, source="path" if n % 3 else "ai"),
            PlanChange(**scene, field="tags", action="add", current_value=[],
                       proposed_value=[entity(tags[n % 200]), entity(tags[(n + 1) % 200])],
                       confidence=0.6 + spread / 3, source="ai"),
            PlanChange(**scene, field="details", action="set",
                       current_value=f"<p>Details of {n}</p>",
                       proposed_value=f"Details of {n}", confidence=0.9, source="path"),
            PlanChange(**scene, field="tags", action="remove",
                       current_value=[entity(tags[(n + 5) % 200])],
                       proposed_value=[entity(tags[(n + 5) % 200])], confidence=0.7,
                       source="ai"),
        ]
    PlanChange.objects.bulk_create(rows, batch_size=2000)
    return plan


def measure(call, runs: int) -> tuple[float, float, int]:
    """(median ms, p95 ms, queries of the last run); one untimed warm-up call first."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call()
    timings = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            call()
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], len(captured)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="stashhog-bench-") as data_dir:
        setup_django(args.database_url, data_dir)
        from django.contrib.auth import get_user_model
        from django.test import Client
        from rest_framework.authtoken.models import Token
        from rest_framework.test import APIClient

        plan = build(args.scenes)
        total = plan.changes.count()
        user = get_user_model().objects.create_superuser("bench", password="bench-password")
        admin = Client(HTTP_HOST="localhost")
        admin.force_login(user)
        api = APIClient(HTTP_HOST="localhost")
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

        def get(client, url: str):
            def call():
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
            return call

        review = f"/admin/analysis/analysisplan/{plan.pk}/change/"
        pages = {
            "admin review, page 1": review,
            "admin review, page 20": f"{review}?p=20",
            "admin review, path performers >= 0.9": f"{review}?field=performers&source=path"
                                                    "&min_confidence=0.9",
            "admin review, search 'clip 1'": f"{review}?search=clip 1",
        }
        api_cases = {
            "API changes, 100 a page": f"/api/analysis/plans/{plan.pk}/changes?per_page=100",
            "API changes, filtered + sorted": f"/api/analysis/plans/{plan.pk}/changes?"
                                              "field=tags&min_confidence=0.8&sort_by=confidence",
            "API plan detail, 50 scenes": f"/api/analysis/plans/{plan.pk}?per_page=50",
        }
        database = "PostgreSQL" if args.database_url else "SQLite"
        print(f"\nReview benchmark, {database}: {total:,} changes over {args.scenes:,} "
              f"scenes; {args.requests} timed requests per case")
        print(f"{'case':44} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
        page_queries = set()
        for name, url in pages.items():
            median, p95, queries = measure(get(admin, url), args.requests)
            page_queries.add(queries)
            print(f"{name:44} {median:10.1f} {p95:8.1f} {queries:8d}   goal <= {PAGE_GOAL_MS:.0f}")
        print(f"{'':44} admin query count constant: {'yes' if len(page_queries) == 1 else 'NO'}")
        for name, url in api_cases.items():
            median, p95, queries = measure(get(api, url), args.requests)
            print(f"{name:44} {median:10.1f} {p95:8.1f} {queries:8d}")

        bulk_url = f"/api/analysis/plans/{plan.pk}/bulk-review"
        bulk_cases = {
            "bulk-review: path performers >= 0.9": {
                "filters": {"field": "performers", "source": "path", "min_confidence": 0.9}},
            "bulk-review: the whole plan": {},
        }
        for name, selection in bulk_cases.items():
            flip = iter(["accepted", "rejected"] * (args.requests + 1))
            matched = []

            def call(selection=selection, flip=flip, matched=matched):
                response = api.post(bulk_url, {"status": next(flip), **selection},
                                    format="json")
                assert response.status_code == 200, response.json()
                matched.append(response.json()["updated"])

            median, p95, queries = measure(call, min(args.requests, 10))
            print(f"{name:44} {median:10.1f} {p95:8.1f} {queries:8d}   goal <= "
                  f"{BULK_GOAL_MS:.0f} ({matched[-1]:,} changes updated)")


if __name__ == "__main__":
    main()
