"""Plain-text scene details from details that carry HTML (scraped descriptions often do)."""

import html
import re

_TAG = re.compile(r"<!--.*?-->|</?[a-zA-Z][^<>]*>", re.DOTALL)
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")
_LINE_BREAK = re.compile(r"<br\s*/?>|</?(?:p|div|li|h[1-6]|tr)\b[^<>]*>", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_details(text: str | None) -> str | None:
    """The details as plain text, or None when they contain no HTML and need no change.

    Tags are stripped (<br> and block tags become line breaks), entities unescaped, spaces
    collapsed per line and runs of blank lines reduced to one paragraph break.
    """
    if not text or not (_TAG.search(text) or _ENTITY.search(text)):
        return None
    plain = _TAG.sub("", _LINE_BREAK.sub("\n", text))
    plain = html.unescape(plain).replace("\xa0", " ")
    lines = (" ".join(line.split()) for line in plain.splitlines())
    cleaned = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return None if cleaned == text else cleaned
