"""What SceneResponse needs beyond the scene row, loaded for a whole page at once.

Three flat queries (files, performers, tags) keyed by scene id. ``prefetch_related`` would
issue the same queries but build two related managers and querysets per scene, which costs
more than the queries themselves on a 100-scene page.
"""

from scenes.models import Scene, SceneFile

FILE_FIELDS = ("id", "path", "size", "duration", "width", "height", "frame_rate",
               "video_codec", "primary")


def attach_related(scenes: list[Scene]) -> list[Scene]:
    """Set ``file_rows``, ``performer_refs`` and ``tag_refs`` (lists of dicts) on each."""
    by_id = {scene.id: scene for scene in scenes}
    for scene in scenes:
        scene.file_rows, scene.performer_refs, scene.tag_refs = [], [], []
    if not by_id:
        return scenes
    files = (SceneFile.objects.filter(scene_id__in=by_id).order_by("-primary", "id")
             .values("scene_id", *FILE_FIELDS))
    for row in files:
        by_id[row.pop("scene_id")].file_rows.append(row)
    for attribute, entity in (("performer_refs", "performer"), ("tag_refs", "tag")):
        links = (
            getattr(Scene, f"{entity}s").through.objects.filter(scene_id__in=by_id)
            .order_by(f"{entity}__name", f"{entity}_id")
            .values_list("scene_id", f"{entity}_id", f"{entity}__name")
        )
        for scene_id, entity_id, name in links:
            getattr(by_id[scene_id], attribute).append({"id": entity_id, "name": name})
    return scenes
