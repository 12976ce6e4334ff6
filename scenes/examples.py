"""OpenAPI examples for the scene and entity endpoints (lists get the page envelope added)."""

from drf_spectacular.utils import OpenApiExample

_SCENE_VALUE = {
    "id": "1042",
    "title": "Golden Hour",
    "paths": ["/media/Blue Harbor Films/Mia Rivera - Golden Hour.mp4"],
    "organized": False,
    "details": "Golden Hour featuring Mia Rivera.",
    "code": "BHF-0117",
    "urls": ["https://blueharbor.example/scenes/golden-hour"],
    "rating": 80,
    "stash_ids": [{"endpoint": "https://stashdb.org/graphql",
                   "stash_id": "6f1d2b7e-52c4-4d3c-9d0e-2f6a1b9c8e11"}],
    "created_date": "2025-03-02T09:15:00Z",
    "scene_date": "2024-11-17",
    "studio": {"id": "12", "name": "Blue Harbor Films"},
    "performers": [{"id": "301", "name": "Mia Rivera"}],
    "tags": [{"id": "7", "name": "Outdoor"}],
    "last_synced": "2026-01-10T08:00:04Z",
    "files": [{
        "id": "2210",
        "path": "/media/Blue Harbor Films/Mia Rivera - Golden Hour.mp4",
        "size": 734003200,
        "duration": 1800.5,
        "width": 1920,
        "height": 1080,
        "frame_rate": 29.97,
        "video_codec": "h264",
        "primary": True,
    }],
}

SCENE = OpenApiExample("Scene", value=_SCENE_VALUE, response_only=True)
SCENE_PAGE = OpenApiExample("A page of scenes", value=_SCENE_VALUE, response_only=True)

SYNC_RESULT = OpenApiExample(
    "Finished (background=false)",
    value={
        "incremental": True,
        "scenes": {"created": 12, "updated": 340, "removed": 2},
        "tags": {"created": 1, "updated": 3, "removed": 0},
        "performers": {"created": 0, "updated": 5, "removed": 1},
        "studios": {"created": 0, "updated": 0, "removed": 0},
        "deletions_skipped": None,
        "duration_seconds": 4.82,
    },
    response_only=True,
    status_codes=["200"],
)

PERFORMER_PAGE = OpenApiExample(
    "A page of performers",
    value={"id": "301", "name": "Mia Rivera", "aliases": ["Mia R."], "scene_count": 42},
    response_only=True,
)
TAG_PAGE = OpenApiExample(
    "A page of tags",
    value={"id": "7", "name": "Outdoor", "aliases": ["Outdoors"], "scene_count": 1830},
    response_only=True,
)
STUDIO_PAGE = OpenApiExample(
    "A page of studios",
    value={"id": "12", "name": "Blue Harbor Films", "aliases": ["BHF"], "scene_count": 512},
    response_only=True,
)
