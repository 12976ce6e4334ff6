"""The fake Stash behaves like real Stash where a client could get it wrong."""

import subprocess
import sys

import httpx
import pytest

from tests.fakes.stash_library import FakeLibrary, FakeStashError, generate_library

KEY = "fake-server-key"


def post(server, query, variables=None, headers=None, operation_name=None):
    body = {"query": query, "variables": variables or {}}
    if operation_name:
        body["operationName"] = operation_name
    return httpx.post(f"{server.url}/graphql", json=body, headers=headers or {}, timeout=10)


def scene_ids(response) -> list[int]:
    return [int(s["id"]) for s in response.json()["data"]["findScenes"]["scenes"]]


# -- protocol -------------------------------------------------------------------------------


def test_healthz_needs_no_key(fake_stash_factory):
    server = fake_stash_factory(api_key=KEY)

    assert httpx.get(f"{server.url}/healthz").status_code == 200


@pytest.mark.parametrize(
    ("server_key", "header", "status"),
    [
        (None, None, 200),
        (None, "anything", 401),
        (KEY, None, 401),
        (KEY, "wrong", 401),
        (KEY, KEY, 200),
    ],
)
def test_auth_matrix(fake_stash_factory, server_key, header, status):
    server = fake_stash_factory(api_key=server_key)
    headers = {"ApiKey": header} if header else {}

    response = post(server, "query V { version { version } }", headers=headers)

    assert response.status_code == status
    if status == 401:
        assert response.content == b""
        assert response.headers["WWW-Authenticate"] == "FormBased"


@pytest.mark.parametrize(
    "query", ["query { findScenes {", "query { findScenes { scenes { file { path } } } }"]
)
def test_parse_and_validation_errors_are_422(fake_stash, query):
    response = post(fake_stash, query)

    assert response.status_code == 422
    assert response.json()["errors"][0]["message"]


def test_bad_variables_are_422(fake_stash):
    response = post(fake_stash, "query S($id: ID!) { findScene(id: $id) { id } }", {})

    assert response.status_code == 422


def test_resolver_errors_are_200_with_null_data(fake_stash):
    response = post(fake_stash, 'query { findScenes(ids: ["1", "99999"]) { scenes { id } } }')

    assert response.status_code == 200
    assert response.json()["data"] is None
    assert response.json()["errors"][0]["message"] == "scene with id 99999 not found"


def test_find_scene_missing_is_null(fake_stash):
    response = post(fake_stash, 'query { findScene(id: "99999") { id } }')

    assert response.json() == {"data": {"findScene": None}}


def test_stream_path_embeds_the_server_key(fake_stash_factory):
    server = fake_stash_factory(api_key=KEY)

    query = 'query { findScene(id: "1") { paths { stream } } }'
    response = post(server, query, headers={"ApiKey": KEY})

    stream = response.json()["data"]["findScene"]["paths"]["stream"]
    assert stream == f"{server.url}/scene/1/stream?apikey={KEY}"


# -- findScenes -------------------------------------------------------------------------------

FIND = """
query Find($f: SceneFilterType, $ff: FindFilterType) {
  findScenes(scene_filter: $f, filter: $ff) { count scenes { id } }
}
"""


def test_missing_sort_gives_an_undefined_order(fake_stash):
    response = post(fake_stash, FIND, {"ff": {"per_page": -1}})

    ids = scene_ids(response)
    assert sorted(ids) == sorted(fake_stash.library.scenes)
    assert ids != sorted(ids)


def test_unknown_sort_is_an_error(fake_stash):
    response = post(fake_stash, FIND, {"ff": {"sort": "bogus"}})

    assert response.json()["errors"][0]["message"] == "invalid sort: bogus"


def test_per_page_and_page(fake_stash):
    def ids(**find_filter):
        return scene_ids(post(fake_stash, FIND, {"ff": {"sort": "id", **find_filter}}))

    assert ids() == list(range(1, 26))  # Stash's default page size is 25
    assert ids(per_page=5, page=2) == [6, 7, 8, 9, 10]
    assert ids(per_page=5, page=0) == [1, 2, 3, 4, 5]
    assert ids(per_page=0) == []
    assert len(ids(per_page=-1)) == 40
    assert ids(per_page=3, direction="DESC") == [40, 39, 38]
    response = post(fake_stash, FIND, {"ff": {"per_page": 0}})
    assert response.json()["data"]["findScenes"]["count"] == 40


def test_sort_by_updated_at_and_title(fake_stash):
    library = fake_stash.library
    library.clock.advance(60)
    library.update_scene(3, title="0000 first")

    by_updated = scene_ids(post(fake_stash, FIND, {"ff": {"sort": "updated_at", "per_page": -1}}))
    by_title = scene_ids(post(fake_stash, FIND, {"ff": {"sort": "title", "per_page": 1}}))

    assert by_updated[-1] == 3
    assert by_title == [3]


def test_count_is_computed_only_when_selected(fake_stash):
    post(fake_stash, 'query { findScenes(filter: {sort: "id"}) { scenes { id } } }')
    assert fake_stash.scene_counts == 0

    post(fake_stash, 'query { findScenes(filter: {sort: "id"}) { count } }')
    assert fake_stash.scene_counts == 1


def test_id_and_updated_at_filters(fake_stash):
    library = fake_stash.library
    library.clock.advance(3600)
    stamp = library.clock.stamp()
    library.update_scene(12, details="x")
    library.update_scene(30, details="y")
    scene_filter = {
        "id": {"value": 20, "modifier": "GREATER_THAN"},
        "updated_at": {"value": stamp, "modifier": "EQUALS"},
    }

    response = post(fake_stash, FIND, {"f": scene_filter, "ff": {"sort": "id"}})

    assert scene_ids(response) == [30]
    assert response.json()["data"]["findScenes"]["count"] == 1


def test_updated_at_compares_text_like_stash(fake_stash_factory):
    library = FakeLibrary()
    library.add_scene(title="stamped 2026-01-10T12:00:00+11:00")
    server = fake_stash_factory(library)

    def newer_than(value):
        scene_filter = {"updated_at": {"value": value, "modifier": "GREATER_THAN"}}
        return scene_ids(post(server, FIND, {"f": scene_filter, "ff": {"sort": "id"}}))

    assert library.scenes[1].updated_at == "2026-01-10T12:00:00+11:00"
    assert newer_than("2026-01-10T11:59:59+11:00") == [1]
    assert newer_than("2026-01-10T12:00:00+11:00") == []
    # Text, not time: 05:00Z is four hours after the edit but sorts before it...
    assert newer_than("2026-01-10T05:00:00Z") == [1]
    # ...and 13:00+13:00 is an hour before the edit but sorts after it.
    assert newer_than("2026-01-10T13:00:00+13:00") == []


def test_or_combinator_and_one_combinator_per_level(fake_stash):
    either = {"id": {"value": 2, "modifier": "EQUALS"},
              "OR": {"id": {"value": 5, "modifier": "EQUALS"}}}
    both = {"AND": {"id": {"value": 1, "modifier": "EQUALS"}},
            "OR": {"id": {"value": 2, "modifier": "EQUALS"}}}

    assert scene_ids(post(fake_stash, FIND, {"f": either, "ff": {"sort": "id"}})) == [2, 5]
    assert "only one" in post(fake_stash, FIND, {"f": both}).json()["errors"][0]["message"]


# -- entities -----------------------------------------------------------------------------------


@pytest.fixture
def named(fake_stash_factory):
    library = FakeLibrary()
    library.add_tag("Outdoor", aliases=["Al Fresco"])
    library.add_tag("Out_door")
    library.add_tag("OutXdoor")
    library.add_tag("Zoë")
    return fake_stash_factory(library)


def _tag_names(server, criterion):
    query = """query T($f: TagFilterType) {
      findTags(tag_filter: $f, filter: {per_page: -1}) { tags { name } } }"""
    response = post(server, query, {"f": criterion})
    return [t["name"] for t in response.json()["data"]["findTags"]["tags"]]


def test_name_equals_has_like_semantics(named):
    def equals(value):
        return _tag_names(named, {"name": {"value": value, "modifier": "EQUALS"}})

    assert equals("OUTDOOR") == ["Outdoor"]
    assert equals("out_door") == ["Out_door", "OutXdoor"]  # `_` matches any one character
    assert equals("Out%") == ["Outdoor", "Out_door", "OutXdoor"]
    assert equals("ZOË") == []  # SQLite LIKE folds ASCII letters only
    assert _tag_names(named, {"aliases": {"value": "al fresco", "modifier": "EQUALS"}}) == [
        "Outdoor"
    ]


def test_create_rejects_duplicate_names_and_aliases(named):
    query = "mutation C($n: String!) { tagCreate(input: {name: $n}) { id } }"

    for name in ("outdoor", "AL FRESCO"):
        response = post(named, query, {"n": name})
        assert response.json()["errors"][0]["message"] == f"tag with name '{name}' already exists"
    assert post(named, query, {"n": "Indoor"}).json()["data"]["tagCreate"]["id"]
    names = ["outdoor", "AL FRESCO", "Indoor"]
    assert named.mutation_log == [("C", {"n": name}) for name in names]


# -- mutations -------------------------------------------------------------------------------

BULK = """
mutation Bulk($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }
"""


def test_bulk_update_is_all_or_nothing(fake_stash):
    library = fake_stash.library
    before = [(s.tag_ids[:], s.updated_at) for s in library.scenes.values()]
    library.clock.advance(1)
    bad = {"ids": ["1", "2"], "tag_ids": {"ids": ["1", "99999"], "mode": "ADD"}}

    response = post(fake_stash, BULK, {"input": bad}, operation_name="Bulk")

    assert response.json()["errors"][0]["message"] == "tag with id 99999 not found"
    assert [(s.tag_ids[:], s.updated_at) for s in library.scenes.values()] == before
    assert fake_stash.mutation_log == [("Bulk", {"input": bad})]


def test_bulk_update_modes_and_timestamps(fake_stash):
    library = fake_stash.library
    library.update_scene(1, tag_ids=[1, 2])
    library.clock.advance(30)

    post(fake_stash, BULK, {"input": {"ids": ["1"], "tag_ids": {"ids": ["3", "1"], "mode": "ADD"}}})
    assert library.scenes[1].tag_ids == [1, 2, 3]
    post(fake_stash, BULK, {"input": {"ids": ["1"], "tag_ids": {"ids": ["2"], "mode": "REMOVE"}}})
    assert library.scenes[1].tag_ids == [1, 3]
    post(fake_stash, BULK, {"input": {"ids": ["1"], "tag_ids": {"ids": ["4"], "mode": "SET"}}})
    assert library.scenes[1].tag_ids == [4]
    assert library.scenes[1].updated_at == library.clock.stamp()


def test_scene_update_replaces_lists_and_clears_studio(fake_stash):
    library = fake_stash.library
    tag_a, tag_b, tag_c = list(library.tags)[:3]
    library.update_scene(2, tag_ids=[tag_a, tag_b], studio_id=next(iter(library.studios)))
    query = """mutation U($input: SceneUpdateInput!) {
      sceneUpdate(input: $input) { tags { id } studio { id } title } }"""
    change = {"id": "2", "tag_ids": [str(tag_c)], "studio_id": None}

    scene = post(fake_stash, query, {"input": change}).json()["data"]["sceneUpdate"]

    assert scene["tags"] == [{"id": str(tag_c)}]
    assert scene["studio"] is None
    assert scene["title"] == library.scenes[2].title


# -- library edits ---------------------------------------------------------------------------


def test_file_rescans_do_not_bump_the_scene_but_new_files_do():
    library = generate_library(5)
    scene = library.scenes[1]
    before = scene.updated_at
    library.clock.advance(60)

    library.update_file(scene.file_ids[0], size=1)
    assert scene.updated_at == before
    library.add_file(1, "/media/new.mp4")
    assert scene.updated_at == library.clock.stamp() != before


def test_library_edits_reject_unknown_ids():
    library = generate_library(5)

    with pytest.raises(FakeStashError, match="tag with id 999 not found"):
        library.update_scene(1, tag_ids=[999])
    with pytest.raises(FakeStashError, match="scene with id 77 not found"):
        library.delete_scene(77)


def test_deleting_a_tag_leaves_scene_timestamps_alone():
    library = FakeLibrary()
    tag = library.add_tag("Gone")
    scene = library.add_scene(tag_ids=[tag.id])
    library.clock.advance(10)

    library.delete_tag(tag.id)

    assert scene.tag_ids == []
    assert scene.updated_at == scene.created_at


def test_clock_offset_is_configurable():
    library = FakeLibrary(offset="-05:00")

    assert library.clock.stamp() == "2026-01-09T20:00:00-05:00"


# -- fault injection -------------------------------------------------------------------------


def test_fail_next_and_fail_operation(fake_stash):
    fake_stash.fail_next(2, status=503)
    fake_stash.fail_operation("V", times=1, status=500)
    query = "query V { version { version } }"

    assert [post(fake_stash, query).status_code for _ in range(4)] == [503, 503, 500, 200]

    fake_stash.fail_operation("V", error_message="boom")
    assert post(fake_stash, query).json() == {"errors": [{"message": "boom"}], "data": None}
    assert fake_stash.operation_counts["V"] == 5


def test_fail_after_lets_some_requests_through(fake_stash):
    fake_stash.fail_after(2, status=502, times=2)
    query = "query V { version { version } }"

    assert [post(fake_stash, query).status_code for _ in range(5)] == [200, 200, 502, 502, 200]


# -- generator -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_library():
    return generate_library(3000, seed=7)


def _paths(library):
    return [library.files[s.file_ids[0]].path for s in library.scenes.values()]


def test_generator_is_deterministic():
    first, again = generate_library(200), generate_library(200)
    other = generate_library(200, seed=1)

    assert _paths(first) == _paths(again)
    assert first.truth == again.truth
    assert _paths(first) != _paths(other)


def test_generator_truth_matches_paths(big_library):
    library = big_library
    assert set(library.truth) == {str(i) for i in library.scenes}
    named = nameless = 0
    for scene_id, truth in library.truth.items():
        path = library.files[library.scenes[int(scene_id)].file_ids[0]].path
        studio = library.studios[int(truth["studio_id"])]
        cast = [library.performers[int(p)].name for p in truth["performer_ids"]]
        if truth["path_has_names"]:
            named += 1
            lowered = path.lower().replace("_", " ").replace(".", " ")
            assert any(name.lower() in lowered for name in [studio.name, *studio.aliases, *cast])
        else:
            nameless += 1
            assert studio.name not in path
            assert not any(name in path for name in cast)
    assert named > nameless > 0


def test_generator_is_realistic(big_library):
    library = big_library
    paths = _paths(library)
    scenes = list(library.scenes.values())
    performer_names = [p.name for p in library.performers.values()]

    assert any(" & " in p for p in paths)
    assert any(" feat. " in p for p in paths)
    assert any("_and_" in p and p.endswith("_1080p.mkv") for p in paths)
    assert any(p.startswith("/media/performers/") for p in paths)
    assert len(set(paths)) == len(paths)
    assert any("ë" in name or "é" in name for name in performer_names)
    assert any(" " not in name for name in performer_names)
    assert any(a != b and a in b for a in performer_names[:40] for b in performer_names)
    assert any(s.aliases for s in library.studios.values())
    assert any(p.alias_list for p in library.performers.values())
    assert any(len(s.file_ids) > 1 for s in scenes)
    assert any(s.details and "<" in s.details for s in scenes)
    assert any(s.studio_id for s in scenes)
    assert any(s.studio_id is None for s in scenes)
    assert any(s.performer_ids for s in scenes)
    assert any(s.tag_ids for s in scenes)
    assert len({s.updated_at for s in scenes}) > 1


def test_standalone_server_prints_its_url():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.stash", "--scenes", "5", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        response = httpx.post(f"{url}/graphql", json={"query": "{ findScenes { count } }"})
        assert response.json() == {"data": {"findScenes": {"count": 5}}}
    finally:
        process.terminate()
        process.wait(timeout=10)
