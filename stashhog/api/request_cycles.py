"""Freeing an API request's objects when its response is done, not at the next full garbage
collection.

DRF builds reference cycles on every request: the view holds its bound handler
(``view.get = view.list``), its request and its response; the response's
``renderer_context`` holds the view and the response; the request's ``parser_context``
holds the request; each serializer holds its fields and each field its serializer
(``parent``); Django's message storage and ``request.auser`` hold the request. Everything
they reach (the page of rows, the serialized output: hundreds of lists and dicts for a page
of scenes) outlived the request until a full collection, which under load ran every ~2 s
per web process for 55-155 ms with the GIL held while queued requests waited
(benchmarks/load.py). Cutting those references once the response is rendered lets
reference counting free them as soon as the response is sent.
"""

from rest_framework.serializers import BaseSerializer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList


def unbind(field) -> None:
    """Break the cycles between ``field`` (a serializer or field) and the fields bound to it
    (each points back through ``parent``), nested ones included: a serializer's ``fields``
    (a cached_property, present once built), a list's ``child``, a many-relation's
    ``child_relation``. The field is of no further use afterwards."""
    state = vars(field)
    bound = [*state.pop("fields", {}).values(),
             *(state[name] for name in ("child", "child_relation") if name in state)]
    for child in bound:
        vars(child).pop("parent", None)
        unbind(child)


def data_of(serializer):
    """``serializer.data`` for a response built around it: the serializer is unbound (a
    response releases only the serializers of its own ``data``)."""
    try:
        return serializer.data
    finally:
        unbind(serializer)


def _response_serializers(data) -> list[BaseSerializer]:
    """The serializers behind a response's data: itself, or an envelope's values (a page's
    ``items``)."""
    values = [data, *data.values()] if isinstance(data, dict) else [data]
    return [value.serializer for value in values if isinstance(value, ReturnDict | ReturnList)]


# What Django's middleware give a request that refers back to it: the message storage
# (MessageMiddleware) and ``request.auser``, a partial of the request
# (AuthenticationMiddleware). Both are done with once their middleware has returned.
_REQUEST_BACK_REFERENCES = ("_messages", "auser")


def release(response) -> None:
    """Cut the cycles of a rendered DRF response's view, request and serializers; the
    response keeps its content and ``data``. Other responses have none of them."""
    context = vars(response).pop("renderer_context", None)
    if context is None:
        return
    for serializer in _response_serializers(getattr(response, "data", None)):
        unbind(serializer)
    context["request"].parser_context.pop("request", None)
    vars(context["view"]).clear()  # a view instance serves one request


class ReleaseRequestCyclesMiddleware:
    """Cuts the cycles of each request and its response once the middleware inside it (the
    message storage, authentication) and the view are done; Django renders a response
    before it reaches a middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        release(response)
        for name in _REQUEST_BACK_REFERENCES:
            vars(request).pop(name, None)
        return response
