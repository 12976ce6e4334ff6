"""The error envelope as every test sees it: one assertion, shared by the apps' API tests."""

from stashhog.api.errors import error_codes


def assert_envelope(response, status: int, code: str | None = None) -> dict:
    """The response is ``status`` in the envelope, with a documented ``code`` (``code``
    itself when given); returns the body."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"success", "code", "error", "detail", "request_id"}
    assert body["success"] is False
    assert isinstance(body["error"], str)
    assert body["error"]
    assert body["code"] in error_codes()
    if code is not None:
        assert body["code"] == code, body
    assert body["request_id"] == response["X-Request-ID"]
    return body
