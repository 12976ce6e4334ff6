"""Current -> proposed of a change, item by item, marked kept, added or removed: what a
reviewer reads. Works from the value shapes of analysis.proposals, whatever the field: a set
replaces the whole value, an add or remove changes entries of a list."""

from dataclasses import dataclass

from analysis.models import ChangeAction

KEPT, ADDED, REMOVED = "kept", "added", "removed"


@dataclass(frozen=True, slots=True)
class DiffEntry:
    label: str
    state: str  # KEPT, ADDED or REMOVED
    new: bool = False  # an entity Stash does not have yet (apply creates it)


def _entry(value, state: str) -> DiffEntry:
    if isinstance(value, dict):
        return DiffEntry(value.get("name") or f"#{value.get('id')}", state,
                         new=value.get("id") is None and state == ADDED)
    return DiffEntry(str(value), state)


def _key(value) -> str:
    if isinstance(value, dict):
        return str(value["id"]) if value.get("id") is not None else f"new:{value.get('name')}"
    return str(value)


def diff_entries(action: str, current, proposed) -> list[DiffEntry]:
    if action == ChangeAction.SET:
        entries = [] if current in (None, "") else [_entry(current, REMOVED)]
        if proposed not in (None, ""):
            entries.append(_entry(proposed, ADDED))
        return entries
    current, proposed = list(current or ()), list(proposed or ())
    if action == ChangeAction.ADD:
        present = {_key(item) for item in current}
        return [_entry(item, KEPT) for item in current] + [
            _entry(item, ADDED) for item in proposed if _key(item) not in present]
    removed = {_key(item) for item in proposed}
    return [_entry(item, REMOVED if _key(item) in removed else KEPT) for item in current]
