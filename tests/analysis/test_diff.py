"""Current -> proposed, entry by entry, for every action."""

import pytest

from analysis.diff import ADDED, KEPT, REMOVED, diff_entries

JANE, ANNA = {"id": "1", "name": "Jane"}, {"id": "2", "name": "Anna"}


@pytest.mark.parametrize(("action", "current", "proposed", "expected"), [
    ("add", [JANE], [ANNA, {"id": None, "name": "Mia"}],
     [("Jane", KEPT, False), ("Anna", ADDED, False), ("Mia", ADDED, True)]),
    ("add", [JANE], [JANE, ANNA], [("Jane", KEPT, False), ("Anna", ADDED, False)]),
    ("remove", [JANE, ANNA], [ANNA], [("Jane", KEPT, False), ("Anna", REMOVED, False)]),
    ("set", None, {"id": "5", "name": "Vixen"}, [("Vixen", ADDED, False)]),
    ("set", {"id": "4", "name": "Old"}, None, [("Old", REMOVED, False)]),
    ("set", "<b>x</b>", "x", [("<b>x</b>", REMOVED, False), ("x", ADDED, False)]),
    ("set", "", "x", [("x", ADDED, False)]),
])
def test_diff_entries(action, current, proposed, expected):
    assert [(e.label, e.state, e.new) for e in diff_entries(action, current, proposed)] == expected
