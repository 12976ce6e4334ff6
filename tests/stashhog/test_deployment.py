"""The deployment files agree with how `make run` starts StashHog (no Docker engine runs
here, so the files themselves are checked)."""

import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from stashhog import launcher

ROOT = Path(__file__).resolve().parents[2]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_of(service) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else command


def program_args(argv: list[str]) -> list[str]:
    """The arguments after the program name, minus host/port/log flags that differ by design."""
    skip_with_value = {"-b", "-p", "--loglevel"}
    args, skip = [], False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg in skip_with_value:
            skip = True
        else:
            args.append(arg)
    return args


def test_compose_has_the_five_services():
    assert set(compose()["services"]) == {"web", "worker", "beat", "redis", "postgres"}


def test_compose_processes_match_the_launcher():
    services = compose()["services"]
    local = launcher.commands()
    web = command_of(services["web"])[-1]  # sh -c "migrate && exec gunicorn ..."
    server = shlex.split(web.split("&&")[-1].replace("exec ", "", 1))
    assert program_args(server) == program_args(local["web"])
    assert program_args(command_of(services["worker"])) == program_args(local["worker"])
    assert program_args(command_of(services["beat"])) == program_args(local["beat"])


def test_compose_points_every_stashhog_service_at_postgres_and_redis():
    services = compose()["services"]
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}


def test_dockerfile_runs_as_a_non_root_user():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")



def test_compose_publishes_the_web_port_on_loopback_only():
    """The TLS reverse proxy in front (README) is what faces the network."""
    for service in compose()["services"].values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port


def deploy_check(tmp_path, **switches: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SECURE_", "DEBUG", "DJANGO_"))}
    env.update(STASHHOG_DATA_DIR=str(tmp_path), SECRET_KEY=secrets.token_urlsafe(50),
               ALLOWED_HOSTS="stashhog.example.org", **switches)
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy",
                           "--fail-level", "WARNING"], cwd=ROOT, env=env,
                          capture_output=True, text=True)


def test_check_deploy_is_clean_with_the_tls_switches_set(tmp_path):
    bare = deploy_check(tmp_path)
    assert bare.returncode != 0
    for warning in ("W004", "W008", "W012", "W016"):  # HSTS, redirect, both cookies
        assert f"security.{warning}" in bare.stderr
    behind_proxy = deploy_check(
        tmp_path, SECURE_COOKIES="true", SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000", SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SECURE_HSTS_PRELOAD="true", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    assert behind_proxy.returncode == 0, behind_proxy.stderr
    assert "no issues" in behind_proxy.stdout


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions per stage (continuation lines joined)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            stages.append([])
        if line and not line.startswith("#") and stages:
            stages[-1].append(line)
    return stages


def test_docker_image_is_multi_stage_with_no_compiler_at_runtime():
    *build_stages, runtime = dockerfile_stages()
    assert build_stages, "the compiler belongs in a build stage"
    build = " ".join(" ".join(stage) for stage in build_stages)
    assert "gcc" in build
    assert "-r /tmp/requirements.txt" in build
    assert "requirements-dev" not in build  # runtime dependencies only
    runtime_text = " ".join(runtime)
    for tool in ("gcc", "make", "build-essential", "apt-get install", "pip install"):
        assert tool not in runtime_text
    assert any(line.startswith("COPY --from=") and "/opt/venv" in line for line in runtime)


def test_docker_image_starts_the_same_web_server_as_make_run():
    cmd = next(line for line in reversed(dockerfile_stages()[-1]) if line.startswith("CMD "))
    argv = json.loads(cmd.removeprefix("CMD "))
    assert program_args(argv) == program_args(launcher.commands()["web"])


def test_the_web_processes_reach_postgresql_through_a_pool(tmp_path):
    """Requests run in more than one thread of a web process: persistent connections would
    pile up behind the threads that end."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("STASHHOG_", "DJANGO_"))}
    env.update(STASHHOG_DATA_DIR=str(tmp_path),
               DATABASE_URL="postgres://stashhog@127.0.0.1:5432/stashhog")
    show = ("from django.conf import settings; import django; django.setup(); "
            "db = settings.DATABASES['default']; "
            "print(db['CONN_MAX_AGE'], bool(db.get('OPTIONS', {}).get('pool')))")
    web = subprocess.run([sys.executable, "-c", f"import stashhog.gunicorn_conf; {show}"],
                         cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "stashhog.settings"},
                         capture_output=True, text=True, check=True)
    assert web.stdout.split() == ["0", "True"]
    worker = subprocess.run([sys.executable, "-c", show], cwd=ROOT,
                            env={**env, "DJANGO_SETTINGS_MODULE": "stashhog.settings"},
                            capture_output=True, text=True, check=True)
    assert worker.stdout.split() == ["60", "False"]


def test_compose_redis_keeps_its_data_and_each_worker_has_its_own_node_name():
    services = compose()["services"]
    redis_command = command_of(services["redis"])
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])
    worker = command_of(services["worker"])
    assert "%h" in worker[worker.index("-n") + 1]  # the container's host name


def test_the_web_server_refuses_a_port_another_server_listens_on(tmp_path):
    """Its processes share the port by SO_REUSEPORT, which would let a second server bind
    it too and take half the connections: it refuses instead."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("STASHHOG_", "DJANGO_", "DATABASE_", "REDIS_"))}
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        web = subprocess.run(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:stashhog.gunicorn_conf",
             "--bind", f"127.0.0.1:{port}", "stashhog.asgi:application"],
            cwd=ROOT, env={**env, "STASHHOG_DATA_DIR": str(tmp_path)},
            capture_output=True, text=True, timeout=60)
    assert web.returncode != 0
    assert f"127.0.0.1:{port} is already in use" in web.stderr
