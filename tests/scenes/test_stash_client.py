"""The real StashClient against the fake Stash server (GraphQL over HTTP on loopback)."""

import logging
import socket
import ssl

import pytest
from graphql import print_ast

from scenes.stash import (
    StashAuthError,
    StashClient,
    StashNotStash,
    StashQueryError,
    StashUnreachable,
)
from scenes.stash.documents import operations
from scenes.stash.errors import safe_url
from stashhog.api.errors import http_status
from tests.fakes.stash_library import FakeLibrary

API_KEY = "eyJhbGciOiJIUzI1NiJ9.test-key-0123456789"


@pytest.fixture
def client(fake_stash):
    with StashClient(fake_stash.url, backoff=0) as client:
        yield client


def _ids(pages) -> list[str]:
    return [scene["id"] for page in pages for scene in page.scenes]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- paging --------------------------------------------------------------------------------


def test_paging_gives_every_scene_exactly_once_in_id_order(fake_stash_factory):
    server = fake_stash_factory(scenes=103)
    with StashClient(server.url) as client:
        pages = list(client.iter_scene_pages(per_page=10))

    assert [len(page.scenes) for page in pages] == [10] * 10 + [3]
    assert _ids(pages) == [str(i) for i in sorted(server.library.scenes)]
    assert set(server.request_log) == {"ScenePage"}


def test_paging_stops_after_an_empty_page_when_the_total_divides(fake_stash_factory):
    server = fake_stash_factory(scenes=30)
    with StashClient(server.url) as client:
        pages = list(client.iter_scene_pages(per_page=10))

    assert [len(page.scenes) for page in pages] == [10, 10, 10, 0]


def test_keyset_paging_survives_edits_and_deletes_during_the_scan(fake_stash_factory):
    server = fake_stash_factory(scenes=50)
    library = server.library
    with StashClient(server.url) as client:
        pages = client.iter_scene_pages(per_page=10)
        seen = [scene["id"] for scene in next(pages).scenes]
        library.clock.advance(60)
        library.update_scene(3, title="edited behind the cursor")
        library.update_scene(30, title="edited ahead of the cursor")
        library.delete_scene(25)
        seen += _ids(pages)

    assert len(seen) == len(set(seen)) == 49
    assert "25" not in seen
    assert "30" in seen


def test_count_is_asked_for_on_the_first_page_only(fake_stash_factory):
    server = fake_stash_factory(scenes=25)
    with StashClient(server.url) as client:
        pages = list(client.iter_scene_pages(per_page=10))

    assert [page.total for page in pages] == [25, None, None]
    assert server.scene_counts == 1


def test_updated_since_returns_only_later_edits(fake_stash):
    library = fake_stash.library
    watermark = max(scene.updated_at for scene in library.scenes.values())
    library.clock.advance(3600)
    library.update_scene(5, details="new")
    library.bulk_update_scenes([17], tag_ids={"ids": [], "mode": "ADD"})

    with StashClient(fake_stash.url) as client:
        pages = list(client.iter_scene_pages(updated_since=watermark, per_page=10))

    assert _ids(pages) == ["5", "17"]
    assert pages[0].total == 2


def test_after_id_resumes_an_interrupted_scan(fake_stash):
    with StashClient(fake_stash.url) as client:
        ids = _ids(client.iter_scene_pages(after_id=30, per_page=4))

    assert ids == [str(i) for i in sorted(fake_stash.library.scenes) if i > 30]


def test_scene_ids_lists_every_scene(fake_stash, client):
    fake_stash.library.delete_scene(7)

    ids, counted = client.scene_ids()
    assert ids == [str(i) for i in sorted(fake_stash.library.scenes)]
    assert counted == len(ids)


def test_scenes_come_with_files_primary_first_and_relations(fake_stash, client):
    library = fake_stash.library
    tag = library.add_tag("Fresh Tag")
    performer = library.add_performer("Fresh Performer")
    studio = library.add_studio("Fresh Studio")
    scene = library.add_scene(
        title="Two files",
        files=["/media/a/primary.mp4", "/media/a/secondary.mkv"],
        studio_id=studio.id,
        performer_ids=[performer.id],
        tag_ids=[tag.id],
    )

    found = client.get_scene(scene.id)

    assert [f["path"] for f in found["files"]] == ["/media/a/primary.mp4", "/media/a/secondary.mkv"]
    assert found["files"][0]["basename"] == "primary.mp4"
    assert found["studio"] == {"id": str(studio.id), "name": "Fresh Studio"}
    assert found["performers"] == [{"id": str(performer.id), "name": "Fresh Performer"}]
    assert found["tags"] == [{"id": str(tag.id), "name": "Fresh Tag"}]
    assert client.get_scene(999_999) is None


def test_get_scenes_marks_deleted_ids_as_none(fake_stash, client):
    fake_stash.library.delete_scene(4)

    found = client.get_scenes(["2", "4", "6"])

    assert list(found) == ["2", "4", "6"]
    assert found["4"] is None
    assert found["2"]["id"] == "2"
    assert found["6"]["id"] == "6"
    assert fake_stash.operation_counts["FindScenesByIds"] == 1
    assert fake_stash.operation_counts["FindScene"] == 3


def test_get_scenes_uses_one_request_when_all_exist(fake_stash, client):
    found = client.get_scenes([3, 1, 2])

    assert [scene["id"] for scene in found.values()] == ["3", "1", "2"]
    assert fake_stash.request_log == ["FindScenesByIds"]


def test_server_info(client):
    info = client.server_info()

    assert info["version"]["version"].startswith("v0.")
    assert info["system_status"]["status"] == "OK"


# -- tags, performers, studios --------------------------------------------------------------


@pytest.fixture
def named_stash(fake_stash_factory):
    library = FakeLibrary()
    library.add_tag("Outdoor", aliases=["Al Fresco"])
    library.add_tag("Out_door")
    library.add_tag("OutXdoor")
    library.add_tag("Outdoors")
    library.add_performer("Zoë Rivera", alias_list=["Zoe R."])
    library.add_performer("Zoë")
    library.add_studio("Blue Harbor Films", aliases=["BHF"])
    library.add_studio("Blue Harbor")
    return fake_stash_factory(library)


def test_find_by_name_is_case_insensitive_and_matches_aliases(named_stash):
    with StashClient(named_stash.url) as client:
        assert [t["name"] for t in client.find_tags_by_name("OUTDOOR")] == ["Outdoor"]
        assert [t["name"] for t in client.find_tags_by_name("al fresco")] == ["Outdoor"]
        assert [p["name"] for p in client.find_performers_by_name("zoe r.")] == ["Zoë Rivera"]
        assert [s["name"] for s in client.find_studios_by_name("bhf")] == ["Blue Harbor Films"]
        assert client.find_studios_by_name("Harbor") == []


def test_find_by_name_drops_like_wildcard_matches(named_stash):
    with StashClient(named_stash.url) as client:
        found = client.find_tags_by_name("out_door")

    assert [t["name"] for t in found] == ["Out_door"]


def test_find_by_name_casefolds_beyond_ascii(named_stash):
    named_stash.library.add_performer("ÉLODIE")
    with StashClient(named_stash.url) as client:
        assert [p["name"] for p in client.find_performers_by_name("ÉLODIE")] == ["ÉLODIE"]
        assert [p["name"] for p in client.find_performers_by_name("zoë")] == ["Zoë"]


def test_all_entities_with_updated_since(named_stash):
    library = named_stash.library
    watermark = library.clock.stamp()
    library.clock.advance(10)
    outdoors = next(t for t in library.tags.values() if t.name == "Outdoors")
    library.update_tag(outdoors.id, aliases=["Outside"])

    with StashClient(named_stash.url) as client:
        assert len(client.all_tags()) == 4
        assert client.all_tags(updated_since=watermark) == [
            {
                "id": str(outdoors.id),
                "name": "Outdoors",
                "aliases": ["Outside"],
                "ignore_auto_tag": False,
                "updated_at": outdoors.updated_at,
            }
        ]
        assert client.all_performers(updated_since=watermark) == []
        assert [s["aliases"] for s in client.all_studios()] == [["BHF"], []]
        assert {p["name"] for p in client.all_performers()} == {"Zoë Rivera", "Zoë"}


def test_create_returns_id_and_name(named_stash):
    with StashClient(named_stash.url) as client:
        tag = client.create_tag("Brand New")
        performer = client.create_performer("New Face")
        studio = client.create_studio("New House")

    library = named_stash.library
    assert library.tags[int(tag["id"])].name == tag["name"] == "Brand New"
    assert library.performers[int(performer["id"])].name == "New Face"
    assert library.studios[int(studio["id"])].name == "New House"


@pytest.mark.parametrize("name", ["outdoor", "AL FRESCO"])
def test_create_duplicate_is_a_query_error(named_stash, name):
    with StashClient(named_stash.url) as client, pytest.raises(StashQueryError) as caught:
        client.create_tag(name)

    assert "already exists" in caught.value.message
    assert named_stash.operation_counts["TagCreate"] == 1  # GraphQL errors are not retried


# -- writes ---------------------------------------------------------------------------------


@pytest.fixture
def tagged_stash(fake_stash_factory):
    library = FakeLibrary()
    a, b, c = (library.add_tag(name).id for name in ("A", "B", "C"))
    p, q = (library.add_performer(name).id for name in ("P", "Q"))
    for _ in range(3):
        library.add_scene(files=[f"/m/{_}.mp4"], tag_ids=[a, b], performer_ids=[p])
    server = fake_stash_factory(library)
    server.ids = {"A": a, "B": b, "C": c, "P": p, "Q": q}
    return server


def _tag_names(library, scene_id):
    return [library.tags[t].name for t in library.scenes[scene_id].tag_ids]


def test_bulk_add_and_remove_keep_the_other_tags(tagged_stash):
    ids, library = tagged_stash.ids, tagged_stash.library
    with StashClient(tagged_stash.url) as client:
        updated = client.bulk_update_scenes(["1", "2"], tag_ids=[ids["C"]])
        assert updated == ["1", "2"]
        assert _tag_names(library, 1) == ["A", "B", "C"]
        assert _tag_names(library, 3) == ["A", "B"]

        client.bulk_update_scenes([1], tag_ids=[ids["A"]], tag_mode="REMOVE")
        assert _tag_names(library, 1) == ["B", "C"]

        client.bulk_update_scenes([1], performer_ids=[ids["Q"]], performer_mode="SET")
        assert library.scenes[1].performer_ids == [ids["Q"]]
        assert _tag_names(library, 1) == ["B", "C"]

    assert tagged_stash.mutation_log[0] == (
        "BulkSceneUpdate",
        {"input": {"ids": ["1", "2"], "tag_ids": {"ids": [str(ids["C"])], "mode": "ADD"}}},
    )


@pytest.mark.parametrize(
    ("scene_ids", "tag_id"),
    [(["1", "999"], "C"), (["1", "2"], None)],
    ids=["unknown scene", "unknown tag"],
)
def test_bulk_with_a_bad_id_changes_nothing(tagged_stash, scene_ids, tag_id):
    library = tagged_stash.library
    before = {i: (list(s.tag_ids), s.updated_at) for i, s in library.scenes.items()}
    library.clock.advance(5)
    tag = tagged_stash.ids[tag_id] if tag_id else 424242

    with StashClient(tagged_stash.url) as client, pytest.raises(StashQueryError) as caught:
        client.bulk_update_scenes(scene_ids, tag_ids=[tag])

    assert "not found" in caught.value.message
    assert {i: (list(s.tag_ids), s.updated_at) for i, s in library.scenes.items()} == before


def test_bulk_rejects_unknown_modes_before_calling_stash(tagged_stash):
    with StashClient(tagged_stash.url) as client, pytest.raises(ValueError,
                                                                match="unknown bulk mode"):
        client.bulk_update_scenes(["1"], tag_ids=["1"], tag_mode="APPEND")

    assert tagged_stash.request_log == []


def test_update_scene_sets_details_and_clears_the_studio(fake_stash_factory):
    library = FakeLibrary()
    studio = library.add_studio("S")
    library.add_scene(files=["/m/x.mp4"], studio_id=studio.id, details="old")
    server = fake_stash_factory(library)

    with StashClient(server.url) as client:
        scene = client.update_scene("1", studio_id=None, details="<p>new</p>")
        assert scene["studio"] is None
        assert scene["details"] == "<p>new</p>"
        assert client.update_scene("1", studio_id=str(studio.id))["studio"]["name"] == "S"
        with pytest.raises(TypeError):
            client.update_scene("1", tag_ids=["1"])


# -- failures ---------------------------------------------------------------------------------


def test_auth_without_a_key_on_an_open_server(fake_stash):
    with StashClient(fake_stash.url) as client:
        assert client.server_info()["system_status"]["status"] == "OK"


def test_auth_with_the_right_key(fake_stash_factory):
    server = fake_stash_factory(api_key=API_KEY)
    with StashClient(server.url, API_KEY) as client:
        assert client.scene_ids()


@pytest.mark.parametrize(
    ("server_key", "client_key", "expected"),
    [
        (API_KEY, "wrong-key", "refused the API key"),
        (API_KEY, None, "requires an API key"),
        (None, "any-key", "refused the API key"),
    ],
)
def test_auth_failures(fake_stash_factory, server_key, client_key, expected):
    server = fake_stash_factory(api_key=server_key)
    with StashClient(server.url, client_key, backoff=0) as client:
        with pytest.raises(StashAuthError) as caught:
            client.server_info()

    assert expected in caught.value.message
    assert len(server.request_log) == 1  # a refused key is not retried
    assert API_KEY not in str(caught.value)
    assert "wrong-key" not in str(caught.value)


def test_closed_port_is_unreachable():
    with StashClient(f"http://127.0.0.1:{_closed_port()}", retries=1, backoff=0) as client:
        with pytest.raises(StashUnreachable) as caught:
            client.server_info()

    assert http_status(caught.value) == 502
    assert "after 2 attempts" in caught.value.message


def test_retry_succeeds_after_two_bad_gateways(fake_stash):
    fake_stash.fail_next(2, 502)
    with StashClient(fake_stash.url, backoff=0) as client:
        assert client.server_info()["system_status"]["status"] == "OK"

    assert fake_stash.request_log == ["ServerInfo"] * 3


def test_retries_give_up_after_the_limit(fake_stash):
    fake_stash.fail_next(10, 503)
    with StashClient(fake_stash.url, retries=2, backoff=0) as client:
        with pytest.raises(StashUnreachable) as caught:
            client.server_info()

    assert "HTTP 503" in caught.value.message
    assert len(fake_stash.request_log) == 3


def test_an_interrupted_scan_fails_and_can_resume(fake_stash_factory):
    server = fake_stash_factory(scenes=50)
    server.fail_after(2, status=500)
    seen = []
    with StashClient(server.url, retries=1, backoff=0) as client:
        pages = client.iter_scene_pages(per_page=10)
        with pytest.raises(StashUnreachable):  # extend keeps the ids read before the failure
            seen.extend(scene["id"] for page in pages for scene in page.scenes)
        server.clear_faults()
        seen += _ids(client.iter_scene_pages(per_page=10, after_id=int(seen[-1])))

    assert seen == [str(i) for i in range(1, 51)]


def test_graphql_error_is_a_query_error(fake_stash, client):
    fake_stash.fail_operation("ServerInfo", error_message="database is locked")

    with pytest.raises(StashQueryError) as caught:
        client.server_info()

    assert "database is locked" in caught.value.message
    assert http_status(caught.value) == 502


def test_not_a_stash_endpoint(fake_stash):
    with StashClient(f"{fake_stash.url}/not-stash", backoff=0) as client:
        with pytest.raises(StashNotStash) as caught:
            client.server_info()

    assert "HTTP 404" in caught.value.message


def test_url_may_end_in_graphql(fake_stash):
    with StashClient(f"{fake_stash.url}/graphql/") as client:
        assert client.server_info()["system_status"]["status"] == "OK"


# -- secrets --------------------------------------------------------------------------------


def test_no_operation_asks_for_stream_urls():
    for name, document in operations().items():
        text = print_ast(document)
        assert "paths" not in text, name
        assert "sceneStreams" not in text, name


def test_the_key_and_stream_url_never_reach_logs_or_errors(fake_stash_factory, caplog):
    server = fake_stash_factory(api_key=API_KEY)
    caplog.set_level(logging.DEBUG)
    messages = []
    with StashClient(server.url, API_KEY, backoff=0) as client:
        list(client.iter_scene_pages(per_page=15))
        client.get_scenes(["1", "99999"])
        client.bulk_update_scenes(["1"], tag_ids=["1"])
        server.fail_next(1, 502)
        client.server_info()
        server.fail_operation("SceneIds", error_message=f"stream at {server.url}?apikey={API_KEY}")
        with pytest.raises(StashQueryError) as caught:
            client.scene_ids()
        messages.append(str(caught.value))
    key_in_url = f"{server.url}/?apikey={API_KEY}"
    with StashClient(key_in_url, "wrong-key", backoff=0) as client:
        with pytest.raises(StashAuthError) as caught:
            client.server_info()
        messages.append(str(caught.value))

    assert "stash ScenePage took" in caplog.text  # debug logging was on and captured
    for text in [caplog.text, *messages]:
        assert API_KEY not in text
        assert "apikey=" not in text.replace("apikey=********", "")
        assert "/stream" not in text or "apikey=********" in text


def test_safe_url_drops_credentials_and_query():
    assert safe_url("http://user:pw@stash.lan:9999/base?apikey=k#x") == "http://stash.lan:9999/base"


def test_clients_share_one_certificate_verification_context():
    """Building the CA context cost more than a no-op sync; each job opens new clients."""
    first, second = StashClient("https://stash.example"), StashClient("http://127.0.0.1:9")

    context = first._gql.transport.kwargs["verify"]
    assert context is second._gql.transport.kwargs["verify"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
