"""Current -> proposed of a change, item by item, marked kept, added or removed: what a
reviewer reads. Works from the value shapes of analysis.proposals, whatever the field: a set
replaces the whole value, an add or remove changes entries of a list."""

from dataclasses import dataclass

from analysis.fields import SCENE_FIELDS, SceneField
from analysis.models import ChangeAction

KEPT, ADDED, REMOVED = "kept", "added", "removed"


@dataclass(frozen=True, slots=True)
class DiffEntry:
    label: str
    state: str  # KEPT, ADDED or REMOVED
    new: bool = False  # an entity Stash does not have yet (apply creates it)


def _entry(field: SceneField, value, state: str) -> DiffEntry:
    if field.kind is not None:
        return DiffEntry(value.get("name") or f"#{value.get('id')}", state,
                         new=value.get("id") is None and state == ADDED)
    return DiffEntry(field.item_label(value), state)


def diff_entries(field_name: str, action: str, current, proposed) -> list[DiffEntry]:
    field = SCENE_FIELDS[field_name]
    if action == ChangeAction.SET:
        entries = [] if current in (None, "") else [_entry(field, current, REMOVED)]
        if proposed not in (None, ""):
            entries.append(_entry(field, proposed, ADDED))
        return entries
    current, proposed = list(current or ()), list(proposed or ())
    if action == ChangeAction.ADD:
        present = {field.item_key(item) for item in current}
        return [_entry(field, item, KEPT) for item in current] + [
            _entry(field, item, ADDED) for item in proposed if field.item_key(item) not in present]
    removed = {field.item_key(item) for item in proposed}
    return [_entry(field, item, REMOVED if field.item_key(item) in removed else KEPT)
            for item in current]
