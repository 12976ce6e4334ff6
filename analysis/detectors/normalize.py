"""The one text normaliser shared by catalogue keys and scene text, so both sides compare equal.

Casefold, strip diacritics (NFKD), treat every non-alphanumeric character as a word separator.
Apostrophes join their neighbours ("O'Neil" -> "oneil"); catalogue names additionally register
the split form ("o neil") through `name_variants`, so "ONeil", "O'Neil" and "O Neil" all match.
"""

import re
import unicodedata

_APOSTROPHES = re.compile(r"['\u2019\u02bc`\u00b4]")
_HYPHENS = re.compile(r"[-\u2010\u2011\u2012\u2013]")
_WORD = re.compile(r"[^\W_]+")

# A fully joined multi-word name ("janedoe") shorter than this collides too easily.
_MIN_JOINED_LENGTH = 6


def fold(text: str) -> str:
    """Casefold and strip diacritics: "Zoë" -> "zoe", "Straße" -> "strasse"."""
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _words(folded: str) -> list[str]:
    return _WORD.findall(_APOSTROPHES.sub("", folded))


def tokenize(text: str) -> list[str]:
    """Normalised words of text; dots, underscores, dashes and brackets all separate words."""
    return _words(fold(text))


def normalize(text: str) -> str:
    """Normalised words of text joined by single spaces."""
    return " ".join(tokenize(text))


def name_variants(name: str) -> set[tuple[str, ...]]:
    """Token sequences a catalogue name may appear as in scene text.

    "O'Neil-Smith" -> ("oneil", "smith"), ("o", "neil", "smith"), ("oneilsmith",); multi-word
    names also get their run-together form ("JaneDoe.mp4") when it is long enough.
    """
    folded = fold(name)
    forms = (folded, _APOSTROPHES.sub(" ", folded), _HYPHENS.sub("", folded))
    variants = {tuple(_words(form)) for form in forms}
    longest = max(variants, key=len)
    joined = "".join(longest)
    if len(longest) > 1 and len(joined) >= _MIN_JOINED_LENGTH:
        variants.add((joined,))
    variants.discard(())
    return variants
