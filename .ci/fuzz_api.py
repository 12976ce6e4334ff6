"""schemathesis against a live StashHog: no 5xx, no answer the schema does not describe.

Starts what `make run` would, on loopback and in a throw-away data folder: an embedded
Redis, SQLite, the web server and a Celery worker (the launcher's commands), plus the fake
Stash and fake OpenAI servers of the test suite; seeds a synced library and a plan; then
runs schemathesis with a superuser's token, bounded by ``--max-examples`` per operation
(and ``--seed`` for repeatable runs).

Left out: the operations that send requests to a URL taken from their input (changing the
Stash or AI URL, the connection tests), since outbound requests go to loopback only, and
the health check (see NOT_FUZZED). Checks left out are in NOT_CHECKED, each with why.

    .venv/bin/python .ci/fuzz_api.py [--max-examples 10] [--seed 1] [extra schemathesis args]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NOT_FUZZED = [
    # They send requests to URLs from their input; outbound requests go to loopback only.
    "settings_update", "settings_test_stash_create", "settings_test_openai_create",
    # No input to fuzz, and a 503 by design whenever the worker is slow to answer its ping
    # (as on a busy CI machine); tests/stashhog/test_health.py covers it.
    "health_retrieve",
]

NOT_CHECKED = [
    # Sends made-up credentials of one of the schema's schemes (session cookie) beside the
    # valid token, which rightly still authenticates; tests/ checks every route needs auth.
    "ignored_auth",
    # Expects any schema-valid body to be accepted, but ids that do not exist (scenes,
    # changes) are rightly refused with 400 naming them.
    "positive_data_acceptance",
    # DELETE cancels (jobs, plans): a cancelled job or plan stays readable, by design.
    "use_after_free",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, token: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the web server exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (an error status is an answer)
        except OSError:
            time.sleep(0.3)
    sys.exit(f"the web server did not answer {url} within {timeout:g} s")


def wait_for_worker(health_url: str, log: Path, timeout: float = 90) -> None:
    """Health answers 200 once the worker answers its ping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(health_url, timeout=10).close()
            return
        except OSError:
            time.sleep(1)
    sys.exit(f"the worker did not answer within {timeout:g} s:\n{log.read_text()[-3000:]}")


def prepare(data_dir: Path) -> None:
    """This process becomes StashHog's environment (the children inherit it)."""
    os.environ.update(STASHHOG_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="stashhog.settings")
    os.environ.pop("DATABASE_URL", None)  # SQLite in the throw-away folder
    sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args, schemathesis_args = parser.parse_known_args()

    data_dir = Path(tempfile.mkdtemp(prefix="stashhog-fuzz-"))
    prepare(data_dir)
    from stashhog import embedded_redis

    redis_socket = data_dir / "redis.sock"
    redis = embedded_redis.start(redis_socket)
    os.environ["REDIS_URL"] = f"unix://{redis_socket}"
    web = worker = None
    try:
        import django

        django.setup()
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from rest_framework.authtoken.models import Token

        from settings_app.registry import save_settings
        from stashhog import launcher
        from tests.fakes.openai import FakeOpenAIServer
        from tests.fakes.stash import FakeStashServer
        from tests.fakes.stash_library import generate_library

        call_command("migrate", verbosity=0)
        token = Token.objects.create(user=User.objects.create_superuser("fuzzer")).key
        with FakeStashServer(generate_library(30, seed=3), port=0) as stash, \
                FakeOpenAIServer(api_key="sk-fuzz") as ai:
            save_settings({"stash_url": stash.url, "openai_base_url": ai.base_url,
                           "openai_api_key": "sk-fuzz"})
            port, log = free_port(), data_dir / "server.log"
            os.environ.update(STASHHOG_HOST="127.0.0.1", STASHHOG_PORT=str(port),
                              STASHHOG_WEB_WORKERS="2")
            commands = launcher.commands()  # what `make run` starts
            with log.open("w") as out:
                web, worker = (
                    subprocess.Popen(commands[name], cwd=REPO, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
                    for name in ("web", "worker"))
            api = f"http://127.0.0.1:{port}/api"
            wait_for(f"{api}/schema", web, log)
            wait_for_worker(f"{api}/health", log)
            call(f"{api}/scenes/sync?background=false&incremental=false", token, "POST")
            call(f"{api}/analysis/generate?background=false", token, "POST",
                 {"options": {"create_missing": True, "confidence_threshold": 0}})
            # One worker thread: Python 3.11 keeps the ast module's recursion count per
            # interpreter, so hypothesis parsing sources from two threads at once can fail
            # with "AST constructor recursion depth mismatch" (CPython gh-106905; it did once
            # in CI).
            argv = [BIN / "schemathesis", "run", f"{api}/schema?format=json",
                    "--header", f"Authorization: Token {token}",
                    "--checks", "all", "--exclude-checks", ",".join(NOT_CHECKED),
                    "--max-examples", str(args.max_examples),
                    "--seed", str(args.seed), "--workers", "1", "--request-timeout", "30",
                    "--suppress-health-check", "too_slow,filter_too_much",
                    *[arg for op in NOT_FUZZED for arg in ("--exclude-operation-id", op)],
                    *schemathesis_args]
            result = subprocess.run(argv, cwd=data_dir)
            if result.returncode:
                print(f"== the end of the server log\n{log.read_text()[-6000:]}", flush=True)
            return result.returncode
    finally:
        for process in (web, worker):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        embedded_redis.stop(redis)
        if not os.environ.get("KEEP_FUZZ_DATA"):
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
