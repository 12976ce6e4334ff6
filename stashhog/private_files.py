"""Files only StashHog's own user may read: the data folder (0700), the SQLite database and
the generated secret key (0600). Each file is created with its mode, never chmod-ed after
the fact, so there is no moment when another user could open it."""

import os
import secrets
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    try:
        path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is cut by the umask; older folders too
    except PermissionError:
        pass  # a folder mounted for us but owned by another user: its owner decides
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists; tighten it if it does."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        path.chmod(PRIVATE_FILE_MODE)
    return path


def generated_secret(path: Path) -> str:
    """The secret kept in ``path``, generated on first use. It is written under a temporary
    name created 0600 and linked into place, so a reader never sees it half-written and
    two processes starting at once agree on one value."""
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                             PRIVATE_FILE_MODE)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            temporary.unlink()
    return path.read_text().strip()
