"""Workflow benchmark: the unattended path (sync -> analysis of new or changed -> apply) on a
large library, when nothing changed and when 1% of the scenes changed in Stash.

    .venv/bin/python benchmarks/workflow.py --scenes 100000
    .venv/bin/python benchmarks/workflow.py --scenes 100000 \
        --database-url postgres://postgres@127.0.0.1:5432/stashhog_bench

A first workflow fills the library and analyses every scene (not measured as a goal, only
printed). Then: a workflow with nothing changed (goal <= 5 s end to end), and one after 1%
of the scenes changed in Stash (it must analyse exactly those). Each prints its steps'
durations and counts. Each workflow runs in a fresh child process, the way a worker runs
it (``start_job(..., inline=True)``: the runner, heartbeat and progress included), against
the fake Stash of ``benchmarks/sync.py`` in its own process.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent


def worker(step: str, url: str) -> None:
    """Run one step in this process and print its report as JSON."""
    import django

    django.setup()
    if step == "reset":
        from django.core.management import call_command

        from settings_app.registry import save_settings

        call_command("migrate", verbosity=0)
        save_settings({"stash_url": url, "stash_api_key": None})
        print(json.dumps({}))
        return

    from automation.workflow import WORKFLOW_JOB, workflow_parameters
    from jobs.models import Job
    from jobs.runner import start_job

    started = time.perf_counter()
    workflow = start_job(WORKFLOW_JOB, workflow_parameters({}), inline=True)
    seconds = time.perf_counter() - started
    steps = {step.type: step.duration_seconds for step in Job.objects.filter(parent=workflow)}
    print(json.dumps({"seconds": seconds, "steps": workflow.result["steps"],
                      "durations": steps}))


def run_step(step: str, url: str, env: dict) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "worker", step, url],
        cwd=REPO_DIR, env=env, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def describe(name: str, report: dict) -> None:
    print(f"{name}: {report['seconds']:.2f} s end to end")
    for step, outcome in report["steps"].items():
        if outcome["status"] == "skipped":
            print(f"  {step:<9} skipped: {outcome['reason']}")
            continue
        counts = outcome.get("counts", {})
        if step == "sync":
            detail = f"scenes {counts['scenes']}"
        elif step == "analysis":
            detail = (f"analysed {counts['scenes_analysed']:,} of {counts['scenes_selected']:,}"
                      f" selected, {counts['changes']:,} changes")
        else:
            detail = f"applied {counts['applied']:,}, failed {counts['failed']:,}"
        print(f"  {step:<9} {report['durations'][step]:7.2f} s  {detail}")


def main() -> None:
    from benchmarks.sync import FakeStash, child_env

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--database-url", default=None,
                        help="default: a fresh SQLite file in a temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stashhog-bench-") as data_dir:
        env = child_env(args.database_url, data_dir)
        print(f"-- {args.scenes:,} scenes: generating the fake library...", flush=True)
        stash = FakeStash(args.scenes)
        try:
            run_step("reset", stash.url, env)
            print("-- first workflow (full sync, every scene analysed)...", flush=True)
            first = run_step("workflow", stash.url, env)
            nothing = run_step("workflow", stash.url, env)
            changed = stash.change(0.01)
            after = run_step("workflow", stash.url, env)
        finally:
            stash.close()

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\nWorkflow benchmark, {database}, {args.scenes:,} scenes, path analysis")
    describe("first workflow", first)
    describe("nothing changed (goal <= 5 s)", nothing)
    describe(f"{changed:,} scenes changed in Stash (1%)", after)
    analysed = after["steps"]["analysis"].get("counts", {}).get("scenes_analysed", 0)
    print(f"analysed exactly the changed scenes: {analysed == changed} "
          f"({analysed:,} analysed, {changed:,} changed)")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_DIR))
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        main()
