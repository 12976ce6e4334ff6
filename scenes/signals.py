"""Signals other apps listen to, so scenes never needs to know who uses its rows."""

import django.dispatch

# Sent inside the transaction that deletes local scenes Stash no longer has, with
# ``scene_ids`` (a list of str): receivers clean up what hangs off those scenes in the
# same transaction.
scenes_removed = django.dispatch.Signal()
