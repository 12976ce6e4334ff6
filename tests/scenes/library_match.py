"""Compare StashHog's local library with a fake Stash library, field by field."""

from datetime import datetime

from scenes.models import Performer, Scene, SceneFile, Studio, Tag
from tests.fakes.stash_library import FakeLibrary


def _expected_scene(library: FakeLibrary, scene) -> dict:
    return {
        "title": scene.title or "",
        "details": scene.details or "",
        "organized": scene.organized,
        "code": scene.code or "",
        "urls": list(scene.urls),
        "rating": scene.rating100,
        "created_date": datetime.fromisoformat(scene.created_at),
        "scene_date": scene.date or None,
        "stash_updated_at": datetime.fromisoformat(scene.updated_at),
        "studio_id": str(scene.studio_id) if scene.studio_id else None,
        "performers": sorted(str(i) for i in scene.performer_ids),
        "tags": sorted(str(i) for i in scene.tag_ids),
        "search_text": "\n".join(
            part for part in (scene.title, scene.details,
                              *(library.files[f].path for f in scene.file_ids)) if part
        ).lower(),
    }


def _local_scene(scene: Scene) -> dict:
    return {
        "title": scene.title,
        "details": scene.details,
        "organized": scene.organized,
        "code": scene.code,
        "urls": scene.urls,
        "rating": scene.rating,
        "created_date": scene.created_date,
        "scene_date": scene.scene_date,
        "stash_updated_at": scene.stash_updated_at,
        "studio_id": scene.studio_id,
        "performers": sorted(p.id for p in scene.performers.all()),
        "tags": sorted(t.id for t in scene.tags.all()),
        "search_text": scene.search_text,
    }


def assert_matches(library: FakeLibrary) -> None:
    """Every scene, file, relation and entity (with aliases) equals the fake's; nothing more."""
    local_scenes = {
        scene.id: _local_scene(scene)
        for scene in Scene.objects.prefetch_related("performers", "tags")
    }
    expected_scenes = {str(s.id): _expected_scene(library, s) for s in library.scenes.values()}
    assert local_scenes.keys() == expected_scenes.keys()
    for scene_id, expected in expected_scenes.items():
        assert local_scenes[scene_id] == expected, scene_id

    local_files = {
        f.id: (f.scene_id, f.path, f.size, f.duration, f.width, f.height, f.frame_rate,
               f.video_codec, f.primary)
        for f in SceneFile.objects.all()
    }
    expected_files = {
        str(file_id): (str(f.scene_id), f.path, f.size, f.duration, f.width, f.height,
                       f.frame_rate, f.video_codec, library.scenes[f.scene_id].file_ids[0] == f.id)
        for file_id, f in library.files.items()
    }
    assert local_files == expected_files

    for model, table in ((Tag, library.tags), (Studio, library.studios)):
        local = {e.id: (e.name, e.aliases) for e in model.objects.all()}
        assert local == {str(i): (e.name, list(e.aliases)) for i, e in table.items()}
    local = {p.id: (p.name, p.aliases, p.disambiguation) for p in Performer.objects.all()}
    assert local == {
        str(i): (p.name, list(p.alias_list), p.disambiguation or "")
        for i, p in library.performers.items()
    }
