"""The deployment files agree with how `make run` starts StashHog (no Docker engine runs
here, so the files themselves are checked)."""

import shlex
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
    web = command_of(services["web"])[-1]  # sh -c "migrate && daphne ..."
    daphne = shlex.split(web.split("&&")[-1])
    assert program_args(daphne) == program_args(local["web"])
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
    assert users and users[-1] not in ("root", "0")

