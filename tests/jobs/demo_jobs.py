"""TEST-ONLY job types: a counter with progress, and a few misbehaving bodies.

Imported by the unit tests and by the e2e worker's app module (tests.e2e_celery with
STASHHOG_E2E_IMPORTS=tests.jobs.demo_jobs); production code never registers these.
"""

import time

from jobs.runner import gather_steps, register_job_type, start_step
from stashhog.api.exceptions import UpstreamUnavailable

SECRET_IN_ERROR = "sk-demo-secret-key-123456"


def count(progress, params):
    """Count to ``n``, sleeping ``delay`` s per step. With ``clock`` the message carries the
    wall-clock time of each update (the latency benchmark reads it)."""
    n, delay = params.get("n", 10), params.get("delay", 0.0)
    for i in range(1, n + 1):
        progress.check_cancelled()
        if delay:
            time.sleep(delay)
        message = f"{time.time():.6f}" if params.get("clock") else f"Counted {i} of {n}"
        progress.update(i, n, message)
        progress.partial_result = {"counted": i}
    return {"counted": n}


def fail(progress, params):
    progress.update(1, 2, "about to fail", force=True)
    raise RuntimeError(f"upstream refused apikey={SECRET_IN_ERROR} at step 1")


def upstream_down(progress, params):
    raise UpstreamUnavailable("Could not reach Stash")


def exclusive(progress, params):
    return {"target": params.get("target", 0)}


def idempotent(progress, params):
    progress.update(1, 1)
    return {"done": True}


def fan_out(progress, params):
    """Queue ``steps`` demo.count steps of ``n`` and gather them (running them here too,
    after ``run_here_after`` seconds without a worker)."""
    steps, n = params["steps"], params["n"]
    for _ in range(steps):
        start_step(progress, "demo.count", {"n": n})
    progress.update(0, steps * n, force=True)
    gather_steps(progress, run_here_after=params.get("run_here_after", 0),
                 message=lambda done, counts: f"{done} counted, {counts} steps")
    return {"steps": steps}


register_job_type("demo.count", count)
register_job_type("demo.fan_out", fan_out)
register_job_type("demo.fail", fail)
register_job_type("demo.upstream_down", upstream_down)
register_job_type("demo.exclusive", exclusive,
                  exclusive_key=lambda params: f"demo:{params.get('target', 0)}")
register_job_type("demo.idempotent", idempotent, idempotent=True)
