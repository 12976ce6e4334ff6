"""Secrets never reach a log line: the formatter of the real ``LOGGING`` configuration masks
the whole formatted record, traceback and chained exceptions included, by pattern and by
the secret values the process holds."""

import io
import logging
import logging.config

import pytest
from django.conf import settings

from settings_app.registry import get_setting, save_settings

pytestmark = pytest.mark.django_db

STASH_KEY = "plain-looking-stash-key-0123456789"  # no pattern would catch this one


@pytest.fixture
def log_output():
    """The configured console handler, writing to a buffer instead of stderr."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    logging.config.dictConfig(settings.LOGGING)
    stream = io.StringIO()
    (console,) = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
    console.setStream(stream)
    yield stream
    root.handlers[:], root.level = saved_handlers, saved_level


def fail_with_secrets(key: str):
    try:
        try:
            raise ConnectionError(f"GET http://stash.lan/scene/1/stream?apikey={key} failed")
        except ConnectionError as inner:
            raise RuntimeError(f"request with ApiKey: {key} refused") from inner
    except RuntimeError:
        try:
            raise ValueError("Authorization: Bearer sk-abcdefghijklmnop0123 rejected")
        except ValueError:
            logging.getLogger("stashhog.test").exception("sync failed for key %s", key)


def test_a_logged_traceback_with_chained_exceptions_is_masked(log_output):
    save_settings({"stash_api_key": STASH_KEY})
    assert get_setting("stash_api_key") == STASH_KEY

    fail_with_secrets(STASH_KEY)

    text = log_output.getvalue()
    assert "Traceback" in text
    assert "direct cause" in text
    assert "During handling" in text
    assert STASH_KEY not in text
    assert "sk-abcdefghijklmnop0123" not in text
    assert text.count("********") >= 4


@pytest.mark.parametrize(("line", "secret"), [
    ("stream at http://h/scene/1/stream?apikey=abc123def456&x=1", "abc123def456"),
    ('payload {"api_key": "zyx987wvu654"}', "zyx987wvu654"),
    ("Authorization: Token 0123456789abcdef0123", "0123456789abcdef0123"),
    ("proxy http://admin:hunter2pass@10.0.0.1:8080/", "hunter2pass"),
])
def test_secret_shaped_text_is_masked_by_pattern(log_output, line, secret):
    logging.getLogger("stashhog.test").warning("%s", line)
    assert secret not in log_output.getvalue()
