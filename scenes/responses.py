"""What SceneResponse needs beyond the scene row, loaded for a whole page at once.

Flat queries (files, then each entity list) keyed by scene id. ``prefetch_related`` would
issue the same queries but build two related managers and querysets per scene, which costs
more than the queries themselves on a 100-scene page.
"""

from scenes.entities import SCENE_LISTS
from scenes.models import Scene, SceneFile

FILE_FIELDS = ("id", "path", "size", "duration", "width", "height", "frame_rate",
               "video_codec", "primary")


def attach_related(scenes: list[Scene]) -> list[Scene]:
    """Set ``file_rows`` (a list of dicts) and ``entity_refs`` (scene field -> a list of
    ``{"id", "name"}``, for performers and tags) on each."""
    by_id = {scene.id: scene for scene in scenes}
    for scene in scenes:
        scene.file_rows = []
        scene.entity_refs = {kind.field: [] for kind in SCENE_LISTS}
    if not by_id:
        return scenes
    files = (SceneFile.objects.filter(scene_id__in=by_id).order_by("-primary", "id")
             .values("scene_id", *FILE_FIELDS))
    for row in files:
        by_id[row.pop("scene_id")].file_rows.append(row)
    for kind in SCENE_LISTS:
        for scene_id, entity_id, name in kind.named_links(by_id):
            by_id[scene_id].entity_refs[kind.field].append({"id": entity_id, "name": name})
    return scenes
