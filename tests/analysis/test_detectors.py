"""The non-AI detectors: pure functions, no database."""

import pytest

from analysis.detectors.catalogue import ALIAS, NAME, REORDERED, Entity, EntityIndex
from analysis.detectors.details import clean_details
from analysis.detectors.normalize import name_variants, normalize, tokenize
from analysis.detectors.path import SceneText, detect_performers, detect_studio, detect_tags

PERFORMERS = EntityIndex(
    [
        Entity("jane", "Jane Doe", ("Janie D",)),
        Entity("anna-bell", "Anna Bell"),
        Entity("anna", "Anna"),
        Entity("ann", "Ann"),
        Entity("zoe", "Zoë Lark"),
        Entity("summer", "Summer"),
        Entity("eva", "Eva"),
        Entity("kelly", "Kelly O'Neil"),
        Entity("mia", "Mia Rose Carter"),
    ],
    person_names=True,
)
STUDIOS = EntityIndex(
    [
        Entity("bz", "Brazzers", ("BZ",)),
        Entity("bzx", "Brazzers Exxtra"),
        Entity("rk", "Reality Kings", ("RK",)),
        Entity("vixen", "Vixen"),
        Entity("tushy", "Tushy"),
    ]
)
TAGS = EntityIndex(
    [
        Entity("outdoor", "Outdoor", ("Outside",)),
        Entity("red", "Red"),
        Entity("pov", "POV"),
        Entity("massage", "Massage"),
    ]
)


def scene(path=None, title=None):
    return SceneText(path, title)


def performer_ids(path=None, title=None):
    return {p.entity_id for p in detect_performers(scene(path, title), PERFORMERS)}


def proposal_for(proposals, entity_id):
    return next(p for p in proposals if p.entity_id == entity_id)


# normalize


def test_tokenize_folds_case_diacritics_and_punctuation():
    assert tokenize("ZOË.Lark_[HD]-Scène (2020)") == ["zoe", "lark", "hd", "scene", "2020"]
    assert normalize("  Jane\t\tDOE!! ") == "jane doe"


def test_apostrophe_names_match_joined_and_split_forms():
    variants = name_variants("Kelly O'Neil")
    assert ("kelly", "oneil") in variants
    assert ("kelly", "o", "neil") in variants
    assert tokenize("Kelly O\u2019Neil") == ["kelly", "oneil"]


# catalogue


def test_find_prefers_the_longest_name_and_only_whole_words():
    matches = PERFORMERS.find(tokenize("Anna Bell"))
    assert [(m.entity_ids, m.kind) for m in matches] == [(("anna-bell",), NAME)]
    assert [m.entity_ids for m in PERFORMERS.find(tokenize("annabelle"))] == []
    assert [m.entity_ids for m in PERFORMERS.find(tokenize("anna"))] == [("anna",)]


def test_find_registers_reordered_person_names_and_aliases():
    assert [m.kind for m in PERFORMERS.find(tokenize("doe jane"))] == [REORDERED]
    assert [m.kind for m in PERFORMERS.find(tokenize("carter mia rose"))] == [REORDERED]
    assert [m.kind for m in PERFORMERS.find(tokenize("janie d"))] == [ALIAS]
    studios_are_not_reordered = STUDIOS.find(tokenize("kings reality"))
    assert studios_are_not_reordered == []


def test_find_lets_a_shorter_name_win_when_the_longer_span_is_vetoed():
    def no_span_over_position_one(start, end, kind):
        return not start < 1 < end

    matches = PERFORMERS.find(["anna", "bell"], no_span_over_position_one)
    assert [m.entity_ids for m in matches] == [("anna",)]


def test_find_reports_every_entity_sharing_a_name_but_a_name_beats_an_alias():
    index = EntityIndex(
        [Entity("1", "Vixen"), Entity("2", "Vixen"), Entity("3", "Tushy", ("Blacked",)),
         Entity("4", "Blacked")]
    )
    assert [m.entity_ids for m in index.find(["vixen"])] == [("1", "2")]
    assert [(m.entity_ids, m.kind) for m in index.find(["blacked"])] == [(("4",), NAME)]


def test_candidates_rank_rare_shared_words_first_and_respect_the_limit():
    entities = [Entity(f"jane-{n}", f"Jane Smith{n}") for n in range(30)]
    entities += [Entity("target", "Jane Doe"), Entity("kristina", "Kristina Vale")]
    index = EntityIndex(entities, person_names=True)
    shortlist = index.candidates("some.site.jane.doe.1080p", limit=5)
    assert len(shortlist) == 5
    assert shortlist[0].id == "target"
    assert [e.id for e in index.candidates("kristine", limit=3)] == ["kristina"]
    assert index.candidates("nothing relevant here", limit=3) == []


# performers


@pytest.mark.parametrize(
    "filename",
    [
        "Jane Doe & Anna Bell.mp4",
        "Jane Doe and Anna Bell.mp4",
        "Jane Doe, Anna Bell.mp4",
        "Jane Doe feat. Anna Bell.mp4",
        "Jane Doe ft. Anna Bell.mp4",
        "Jane Doe featuring Anna Bell.mp4",
        "Jane Doe x Anna Bell.mp4",
        "Jane Doe with Anna Bell.mp4",
        "Jane Doe - Anna Bell.mp4",
        "Jane_Doe_and_Anna_Bell.mp4",
        "Site.23.01.05.Jane.Doe.And.Anna.Bell.XXX.1080p.mp4",
    ],
)
def test_performers_split_on_every_separator(filename):
    assert performer_ids(f"/library/{filename}") == {"jane", "anna-bell"}


@pytest.mark.parametrize(
    "filename", ["jane.doe.mp4", "JANE_DOE.mp4", "Jane-Doe.mkv", "JaneDoe.mp4", "doe_jane.mp4"]
)
def test_performers_in_dotted_underscored_joined_and_reordered_names(filename):
    assert performer_ids(f"/library/{filename}") == {"jane"}


def test_diacritics_match_both_ways():
    assert performer_ids("/library/zoe.lark.mp4") == {"zoe"}
    plain = EntityIndex([Entity("z", "Zoe Lark")], person_names=True)
    found = detect_performers(scene("/library/Zoë Lark - Beach.mp4"), plain)
    assert [p.entity_id for p in found] == ["z"]
    assert detect_performers(scene("/library/zoe.lark.mp4"), PERFORMERS)[0].name == "Zoë Lark"


@pytest.mark.parametrize(
    "filename", ["Kelly O'Neil.mp4", "Kelly ONeil.mp4", "kelly.o.neil.mp4", "Kelly_O_Neil.mp4"]
)
def test_apostrophe_names_in_paths(filename):
    assert performer_ids(f"/library/{filename}") == {"kelly"}


def test_reordered_name_across_a_comma_scores_below_the_name():
    reordered = detect_performers(scene("/library/Doe, Jane/clip.mp4"), PERFORMERS)
    in_order = detect_performers(scene("/library/Jane Doe/clip.mp4"), PERFORMERS)
    assert [p.entity_id for p in reordered] == ["jane"]
    assert reordered[0].confidence < in_order[0].confidence


def test_a_comma_never_glues_two_names_into_another():
    assert performer_ids("/library/Anna, Bell Smith.mp4") == {"anna"}
    assert performer_ids("/library/Kim Doe, Jane.mp4") == set()
    assert performer_ids("/library/Doe, Jane Smith.mp4") == set()
    assert performer_ids("/library/Doe, Jane and Anna Bell.mp4") == {"jane", "anna-bell"}


def test_alias_scores_slightly_below_the_name():
    by_alias = detect_performers(scene("/library/Janie D - pool.mp4"), PERFORMERS)
    by_name = detect_performers(scene("/library/Jane Doe - pool.mp4"), PERFORMERS)
    assert [p.entity_id for p in by_alias] == ["jane"]
    assert 0 < by_name[0].confidence - by_alias[0].confidence <= 0.1


def test_substring_names_ann_anna_anna_bell():
    assert performer_ids("/library/Anna Bell.mp4") == {"anna-bell"}
    assert performer_ids("/library/Anna in the pool.mp4") == {"anna"}
    assert performer_ids("/library/Ann - Jane Doe.mp4") == {"ann", "jane"}
    assert performer_ids("/library/Annabelle Pool.mp4") == set()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/library/summer.vacation.mp4", set()),
        ("/library/Summer Vacation/clip.mp4", set()),
        ("/library/Summer/clip.mp4", {"summer"}),
        ("/library/Summer & Jane Doe - x.mp4", {"summer", "jane"}),
        ("/library/Jane Doe (Summer).mp4", {"summer", "jane"}),
    ],
)
def test_common_word_performer_only_standing_alone(path, expected):
    assert performer_ids(path) == expected


def test_common_word_performer_scores_lower():
    found = detect_performers(scene("/library/Summer & Jane Doe - x.mp4"), PERFORMERS)
    assert proposal_for(found, "summer").confidence < proposal_for(found, "jane").confidence


@pytest.mark.parametrize(
    "path", ["/library/Evan.Stone.mp4", "/library/Geneva.trip.mp4", "/library/eva.beach.mp4"]
)
def test_short_names_never_match_inside_words_or_running_text(path):
    assert performer_ids(path) == set()


def test_short_name_standing_alone_matches():
    assert performer_ids("/library/Eva - beach day.mp4") == {"eva"}


def test_multi_word_names_match_anywhere_as_whole_words():
    assert performer_ids(None, "Pool party with Mia Rose Carter and friends") == {"mia"}


def test_detectors_report_every_name_including_what_the_scene_has():
    """The change builder leaves out what the scene has (tests/analysis/test_generate_path),
    and a replace strategy must know what the path still names."""
    assert performer_ids("/library/Jane Doe & Anna Bell.mp4") == {"jane", "anna-bell"}


def test_performer_confidence_follows_folder_filename_title():
    folder = detect_performers(scene("/library/Jane Doe/clip.mp4"), PERFORMERS)
    filename = detect_performers(scene("/library/Jane Doe - clip.mp4"), PERFORMERS)
    title = detect_performers(scene(None, "Jane Doe at the pool"), PERFORMERS)
    assert folder[0].confidence > filename[0].confidence > title[0].confidence


# studio


def test_studio_confidence_folder_then_filename_then_title():
    folder = detect_studio(scene("/library/Reality Kings/clip.mp4"), STUDIOS)
    filename = detect_studio(scene("/library/Reality.Kings.23.01.05.mp4"), STUDIOS)
    title = detect_studio(scene("/library/clip.mp4", "Reality Kings: pool day"), STUDIOS)
    assert {folder.entity_id, filename.entity_id, title.entity_id} == {"rk"}
    assert folder.confidence == pytest.approx(0.95, abs=0.02)
    assert filename.confidence == pytest.approx(0.85, abs=0.05)
    assert title.confidence == pytest.approx(0.75, abs=0.05)
    assert folder.confidence > filename.confidence > title.confidence


def test_studio_folder_beats_a_different_studio_in_the_title():
    proposal = detect_studio(scene("/library/Vixen/clip.mp4", "Tushy presents"), STUDIOS)
    assert proposal.entity_id == "vixen"


def test_sub_studio_folder_beats_its_network_folder():
    proposal = detect_studio(scene("/library/Brazzers/Brazzers Exxtra/clip.mp4"), STUDIOS)
    assert proposal.entity_id == "bzx"


@pytest.mark.parametrize(
    "path", ["/library/BZ.23.01.05.Jane.Doe.mp4", "/library/[BZ] Jane Doe.mp4", "/library/BZ/x.mp4"]
)
def test_studio_abbreviation_through_alias(path):
    proposal = detect_studio(scene(path), STUDIOS)
    assert proposal.entity_id == "bz"
    assert proposal.confidence < 0.85


@pytest.mark.parametrize("path", ["/library/Jane.Doe.BZ.mp4", "/library/abz.rk2.mp4"])
def test_studio_abbreviation_in_running_text_is_ignored(path):
    assert detect_studio(scene(path), STUDIOS) is None


def test_ambiguous_studio_tie_is_dropped():
    assert detect_studio(scene("/library/Vixen Tushy collab.mp4"), STUDIOS) is None
    twins = EntityIndex([Entity("1", "Vixen"), Entity("2", "Vixen")])
    assert detect_studio(scene("/library/Vixen/clip.mp4"), twins) is None


def test_the_studio_a_folder_names_is_found():
    assert detect_studio(scene("/library/Vixen/clip.mp4"), STUDIOS).entity_id == "vixen"


def test_no_studio_without_a_name():
    assert detect_studio(scene(None, None), STUDIOS) is None
    assert detect_studio(scene("/library/clip.mp4"), STUDIOS) is None


# tags


def test_tags_match_whole_words_and_aliases():
    found = detect_tags(scene("/library/Jane Doe - Outside Massage.mp4"), TAGS)
    assert {p.entity_id for p in found} == {"outdoor", "massage"}
    assert detect_tags(scene("/library/Massages.Outdoors.mp4"), TAGS) == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/library/Red.Dress.mp4", set()),
        ("/library/Red/clip.mp4", {"red"}),
        ("/library/[Red] clip.mp4", {"red"}),
        ("/library/Jane.Doe.POV.mp4", {"pov"}),
    ],
)
def test_common_word_tags_only_as_folder_or_segment(path, expected):
    assert {p.entity_id for p in detect_tags(scene(path), TAGS)} == expected


def test_tags_score_below_performers():
    text = scene("/library/Jane Doe - Massage Time.mp4")
    tag = detect_tags(text, TAGS)[0]
    assert tag.confidence < detect_performers(text, PERFORMERS)[0].confidence


# details


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ("<p>Jane &amp; Anna</p><p>Second<br/>line</p>", "Jane & Anna\n\nSecond\nline"),
        ("<b>Bold</b>   text&nbsp;here ", "Bold text here"),
        ("I &lt;3 this", "I <3 this"),
        ("<div>\n  One  </div>\n\n\n\n<div>Two</div>", "One\n\nTwo"),
    ],
)
def test_clean_details_strips_html(details, expected):
    assert clean_details(details) == expected


@pytest.mark.parametrize(
    "details", [None, "", "Plain text, a < b and c > d.", "Tom & Jerry", "R&D &madeup; stays"]
)
def test_clean_details_leaves_plain_text_alone(details):
    assert clean_details(details) is None
