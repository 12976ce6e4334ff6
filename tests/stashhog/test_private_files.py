"""The data folder is 0700; the SQLite database and the secret key file are 0600 from the
moment they exist (created with that mode, not chmod-ed afterwards)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stashhog import private_files


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def no_umask_and_no_chmod(monkeypatch):
    """A permissive umask, and chmod disabled: only a mode given at creation can pass."""
    previous = os.umask(0)
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)
    yield
    os.umask(previous)


def test_the_secret_key_file_is_created_0600(tmp_path, no_umask_and_no_chmod):
    key = private_files.generated_secret(tmp_path / "secret_key")

    assert len(key) > 40
    assert mode(tmp_path / "secret_key") == 0o600
    assert private_files.generated_secret(tmp_path / "secret_key") == key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]


def test_the_database_file_is_created_0600(tmp_path, no_umask_and_no_chmod):
    private_files.private_file(tmp_path / "db.sqlite3")
    assert mode(tmp_path / "db.sqlite3") == 0o600


def test_a_fresh_data_folder_after_django_starts(tmp_path):
    """The real settings, in a fresh process with a permissive umask."""
    data = tmp_path / "data"
    env = {**os.environ, "STASHHOG_DATA_DIR": str(data), "DATABASE_URL": "",
           "SECRET_KEY": "", "DJANGO_SETTINGS_MODULE": "stashhog.settings"}
    script = ("import os; os.umask(0); import django; django.setup(); "
              "from django.db import connection; connection.ensure_connection(); "
              "connection.cursor().execute('CREATE TABLE t (x)')")
    subprocess.run([sys.executable, "-c", script], env=env, check=True,
                   cwd=Path(__file__).resolve().parents[2], timeout=60)

    assert mode(data) == 0o700
    assert mode(data / "secret_key") == 0o600
    for database_file in data.glob("stashhog.sqlite3*"):  # with any -wal and -shm left
        assert mode(database_file) == 0o600, database_file.name
