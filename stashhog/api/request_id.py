"""Every request gets an id: the client's ``X-Request-ID`` when it sends a sane one, else a
new UUID. It is echoed in the ``X-Request-ID`` response header and in error envelopes."""

import re
import uuid

HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_of(request) -> str:
    return getattr(request, "request_id", None) or new_request_id(request)


def new_request_id(request) -> str:
    given = request.headers.get(HEADER, "")
    request.request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
    return request.request_id


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        new_request_id(request)
        response = self.get_response(request)
        response[HEADER] = request.request_id
        return response
