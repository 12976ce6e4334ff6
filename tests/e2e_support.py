"""The shared end-to-end harness: real Celery workers and daphne, on loopback, against the
pytest-django test database and the suite's Redis.

Use the fixtures from a conftest (``from tests.e2e_support import *``, or list
``"tests.e2e_support"`` in the root ``pytest_plugins``) and mark the tests::

    pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

    @pytest.fixture(scope="module")
    def e2e_imports():                      # test-only modules the worker must import
        return ["tests.jobs.demo_jobs"]

    def test_sync(celery_worker, daphne_server, live_celery, api_token):
        job = start_job(...)                # dispatched to the real worker on commit
        wait_for_job(job.id, {"completed"})

Processes are module-scoped (one start per test module); data is per test
(``transactional_db`` truncates after each). Every process runs in its own session and is
killed with its children when its fixture ends, on failure and at interpreter exit too.
Workers and daphne use the real Redis channel layer (``live_channel_layer`` gives the
test process the same one).
"""

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from channels.layers import channel_layers
from django.conf import settings
from django.db import connection

from stashhog.celery import app as celery_app

REPO_DIR = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000  # browser tests: the longest wait for one page event
BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0

_running: list["ManagedProcess"] = []


@dataclass
class ManagedProcess:
    """A child process in its own session, with its output in a log file (removed with
    the process: failures to start quote its tail)."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the main process only (its children react as they would in production)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole session, then SIGKILL whatever is left."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # children outliving the main process
        if self in _running:
            _running.remove(self)
        shutil.rmtree(self.log_path.parent, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Worker(ManagedProcess):
    node_name: str = ""


@dataclass
class WebServer(ManagedProcess):
    port: int = 0
    base_url: str = ""
    ws_url: str = ""


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_running):
        process.stop(timeout=2.0)


def database_url() -> str:
    """DATABASE_URL of the test database this process uses (call after DB setup)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        credentials = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
        return f"postgres://{credentials}@{host}/{db['NAME']}"
    raise RuntimeError(f"e2e tests do not support {db['ENGINE']}")


def redis_url() -> str:
    """The suite's Redis: the embedded one of tests/conftest.py, else REDIS_URL."""
    return (os.environ.get("STASHHOG_TEST_REDIS_URL") or os.environ.get("REDIS_URL")
            or settings.REDIS_URL)


def process_env(imports: Iterable[str] = (), **overrides: str) -> dict[str, str]:
    """Environment of an e2e process: the test database, the suite's Redis, this SECRET_KEY
    (sessions made by one process are valid in the others) and the data dir."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_", "REDIS_", "PYTEST_", "STASHHOG_", "DJANGO_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "stashhog.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "STASHHOG_DATA_DIR": str(settings.DATA_DIR),
        "STASHHOG_E2E_IMPORTS": ",".join(imports),
        "PYTHONPATH": str(REPO_DIR),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(overrides)
    return env


def _spawn(name: str, argv: list[str], env: dict, pass_fds: tuple[int, ...] = (), *,
           kind=ManagedProcess, **extra) -> ManagedProcess:
    log_path = Path(tempfile.mkdtemp(prefix=f"stashhog-{name}-")) / f"{name}.log"
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            argv, cwd=REPO_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=pass_fds,
        )
    process = kind(name=name, popen=popen, log_path=log_path, **extra)
    _running.append(process)
    return process


def _wait_until(process: ManagedProcess, ready, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            process.stop()
            raise RuntimeError(f"{what} exited with code {process.popen.returncode}:\n"
                               f"{process.log_tail()}")
        if ready():
            return
        time.sleep(0.2)
    process.stop()
    raise RuntimeError(f"{what} did not start within {timeout:.0f}s:\n{process.log_tail()}")


def start_worker(env: dict, *, node_name: str | None = None, queues: str = "default,ai",
                 pool: str = "prefork", concurrency: int = 2,
                 timeout: float = START_TIMEOUT) -> Worker:
    """Start ``celery -A tests.e2e_celery worker`` and wait until it answers a ping."""
    node_name = node_name or f"e2e-{uuid.uuid4().hex[:8]}@127.0.0.1"
    argv = [str(BIN / "celery"), "-A", "tests.e2e_celery", "worker", "-n", node_name,
            "-Q", queues, "--pool", pool, "--concurrency", str(concurrency),
            "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    worker = _spawn("worker", argv, env, kind=Worker, node_name=node_name)

    def answers():
        return bool(celery_app.control.ping(destination=[node_name], timeout=0.5))

    _wait_until(worker, answers, f"celery worker {node_name}", timeout)
    return worker


def _listener() -> socket.socket:
    """A socket bound to a free loopback port here and handed to the server, so no other
    process can take the port in between."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # as gunicorn makes its own (stashhog/gunicorn_conf.py: reuse_port), so that each
    # process adds a socket of its own to the port
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    return listener


def _start_server(name: str, argv: list[str], env: dict, listener: socket.socket,
                  timeout: float) -> WebServer:
    port = listener.getsockname()[1]
    try:
        server = _spawn(name, argv, env, pass_fds=(listener.fileno(),), kind=WebServer,
                        port=port, base_url=f"http://127.0.0.1:{port}",
                        ws_url=f"ws://127.0.0.1:{port}")
    finally:
        listener.close()  # the server holds its own copy

    def serves():
        try:
            with urllib.request.urlopen(f"{server.base_url}/admin/login/", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    _wait_until(server, serves, name, timeout)
    return server


def start_daphne(env: dict, *, timeout: float = START_TIMEOUT) -> WebServer:
    """Start one daphne process on a free loopback port; wait until it serves HTTP."""
    listener = _listener()
    argv = [str(BIN / "daphne"), "--fd", str(listener.fileno()), "--access-log", os.devnull,
            "stashhog.asgi:application"]
    return _start_server("daphne", argv, env, listener, timeout)


def start_web_server(env: dict, *, workers: int = 2,
                     timeout: float = START_TIMEOUT) -> WebServer:
    """Start the production server (gunicorn with ``workers`` uvicorn processes, as
    ``make run`` does) on a free loopback port; wait until it serves HTTP."""
    listener = _listener()
    argv = [str(BIN / "gunicorn"), "-c", "python:stashhog.gunicorn_conf",
            "--bind", f"fd://{listener.fileno()}", "stashhog.asgi:application"]
    env = {**env, "STASHHOG_WEB_WORKERS": str(workers)}
    return _start_server("web", argv, env, listener, timeout)


def start_beat(env: dict, *, timeout: float = START_TIMEOUT) -> ManagedProcess:
    """Start ``celery -A tests.e2e_celery beat`` (the database scheduler) and wait until it
    has read its schedule."""
    argv = [str(BIN / "celery"), "-A", "tests.e2e_celery", "beat", "--loglevel", "DEBUG"]
    beat = _spawn("beat", argv, env)

    _wait_until(beat, lambda: "DatabaseScheduler: initial read" in beat.log_tail(400),
                "celery beat", timeout)
    return beat


@contextlib.contextmanager
def running(process: ManagedProcess) -> Iterator[ManagedProcess]:
    """Stop ``process`` (and its children) when the block ends, however it ends."""
    try:
        yield process
    finally:
        process.stop()


def wait_for_job(job_id, statuses: Iterable[str], timeout: float = 30.0):
    """Poll the Job row until its status is one of ``statuses``; returns the Job."""
    from jobs.models import Job

    wanted = set(statuses)
    deadline = time.monotonic() + timeout
    job = None
    while time.monotonic() < deadline:
        job = Job.objects.filter(id=job_id).first()
        if job is not None and job.status in wanted:
            return job
        time.sleep(0.05)
    state = f"{job.status} ({job.message!r}, error {job.error[:300]!r})" if job else "missing"
    raise AssertionError(f"job {job_id} did not reach {sorted(wanted)} in {timeout}s: {state}")


# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def e2e_imports() -> list[str]:
    """Test-only modules the e2e worker imports (override per module, e.g. fake job types)."""
    return []


@pytest.fixture(scope="module")
def e2e_env(django_db_setup, e2e_imports) -> dict[str, str]:
    """The environment e2e processes run with (see ``process_env``)."""
    return process_env(e2e_imports)


@pytest.fixture(scope="module")
def celery_worker(e2e_env) -> Iterator[Worker]:
    """One prefork Celery worker (queues default and ai) for the test module."""
    with running(start_worker(e2e_env)) as worker:
        yield worker


@pytest.fixture(scope="module")
def daphne_server(e2e_env) -> Iterator[WebServer]:
    """daphne serving stashhog.asgi on a free loopback port for the test module."""
    with running(start_daphne(e2e_env)) as server:
        yield server


@pytest.fixture
def live_celery() -> Iterator[None]:
    """Dispatch tasks to the broker from the test process instead of running them eagerly."""
    celery_app.conf.task_always_eager = False
    return


@pytest.fixture
def live_channel_layer(settings) -> Iterator[None]:
    """The test process publishes to (and listens on) the same Redis layer as daphne."""
    from stashhog.settings import redis_channel_layers

    settings.CHANNEL_LAYERS = redis_channel_layers(redis_url())
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's /usr/bin/chromium) through Playwright; the test is
    skipped when Chromium is not installed."""
    if not shutil.which(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium); browser test skipped")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; Django would then refuse
    # the test's (plain, synchronous) database calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                 headless=True)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def api_token(transactional_db, django_user_model):
    """A committed superuser (``tester`` / ``secret-password``, so settings too) and its
    API token, usable by the e2e processes."""
    from rest_framework.authtoken.models import Token

    user = django_user_model.objects.create_superuser("tester", password="secret-password")
    return Token.objects.create(user=user)
