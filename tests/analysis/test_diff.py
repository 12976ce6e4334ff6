"""Current -> proposed, entry by entry, for every action."""

import pytest

from analysis.diff import ADDED, KEPT, REMOVED, diff_entries

JANE, ANNA = {"id": "1", "name": "Jane"}, {"id": "2", "name": "Anna"}


STASHDB = "https://stashdb.org/graphql"


@pytest.mark.parametrize(("field", "action", "current", "proposed", "expected"), [
    ("performers", "add", [JANE], [ANNA, {"id": None, "name": "Mia"}],
     [("Jane", KEPT, False), ("Anna", ADDED, False), ("Mia", ADDED, True)]),
    ("performers", "add", [JANE], [JANE, ANNA], [("Jane", KEPT, False), ("Anna", ADDED, False)]),
    ("tags", "remove", [JANE, ANNA], [ANNA], [("Jane", KEPT, False), ("Anna", REMOVED, False)]),
    ("studio", "set", None, {"id": "5", "name": "Vixen"}, [("Vixen", ADDED, False)]),
    ("studio", "set", {"id": "4", "name": "Old"}, None, [("Old", REMOVED, False)]),
    ("details", "set", "<b>x</b>", "x", [("<b>x</b>", REMOVED, False), ("x", ADDED, False)]),
    ("details", "set", "", "x", [("x", ADDED, False)]),
    ("rating", "set", None, 0, [("0", ADDED, False)]),
    ("organized", "set", False, True, [("False", REMOVED, False), ("True", ADDED, False)]),
    ("urls", "add", ["https://a.example/1"], ["https://b.example/2"],
     [("https://a.example/1", KEPT, False), ("https://b.example/2", ADDED, False)]),
    ("stash_ids", "remove", [{"endpoint": STASHDB, "stash_id": "abc"}],
     [{"endpoint": STASHDB, "stash_id": "abc"}], [(f"abc ({STASHDB})", REMOVED, False)]),
])
def test_diff_entries(field, action, current, proposed, expected):
    entries = diff_entries(field, action, current, proposed)
    assert [(e.label, e.state, e.new) for e in entries] == expected
