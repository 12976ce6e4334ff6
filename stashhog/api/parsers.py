"""The one request-body parser: JSON that cannot crash a view.

Python's ``json`` reads ``1e400`` as infinity (which no database column or JSON answer
takes), reads integers of any size (which overflow 64-bit columns), and raises
RecursionError on deeply nested arrays. Each is a 400 ``parse_error`` here instead.
"""

import codecs
import json
import math

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32  # no request body of the API nests deeper than a few levels
INT64_MAX = 2**63 - 1


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _int64(text: str) -> int:
    value = int(text)
    if abs(value) > INT64_MAX:
        raise ValueError(f"integer out of range: {text[:20]}…")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _depth(data) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return deepest


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.load(codecs.getreader(encoding)(stream), parse_float=_finite_float,
                             parse_int=_int64, parse_constant=_no_constant)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}")
        if _depth(data) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        return data
