"""Reading a yes/no from text (environment variables, query parameters): one set of
spellings everywhere, and anything else is an error rather than a silent "no"."""

TRUE_TEXT = frozenset({"1", "true", "yes", "on"})
FALSE_TEXT = frozenset({"0", "false", "no", "off"})


def parse_bool(text: str) -> bool:
    """``text`` as a boolean (any case, surrounding spaces ignored); ValueError otherwise."""
    folded = text.strip().lower()
    if folded in TRUE_TEXT:
        return True
    if folded in FALSE_TEXT:
        return False
    raise ValueError("must be true or false")
