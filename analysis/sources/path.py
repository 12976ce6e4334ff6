"""The ``path`` source: entities named by a scene's file path and title, and plain-text
details for details carrying HTML markup. Local and deterministic: no request leaves."""

from collections.abc import Callable
from typing import Any

from analysis.detectors.catalogue import EntityIndex
from analysis.detectors.details import clean_details
from analysis.detectors.path import (
    Proposal,
    SceneText,
    detect_performers,
    detect_studio,
    detect_tags,
)
from analysis.fields import DETAILS, PERFORMERS_FIELD, SCENE_FIELDS, STUDIO, TAGS_FIELD
from analysis.library import LibraryIndexes, SceneSnapshot
from analysis.models import ChangeSource
from analysis.options import AnalysisOptions
from analysis.proposals import Finding
from analysis.sources import ChunkOutcome, ProposalSource
from scenes.batching import SCENE_BATCH

# Cleaning markup changes the form of the details, never their words.
DETAILS_CLEANING_CONFIDENCE = 0.9
DETAILS_CLEANING_REASON = "Details contain HTML markup; proposed as plain text"

# The path detector of each entity field (the single-studio one proposes at most one).
PATH_DETECTORS: dict[str, Callable[[SceneText, EntityIndex], list[Proposal]]] = {
    STUDIO.name: lambda text, index: [p for p in [detect_studio(text, index)] if p],
    PERFORMERS_FIELD.name: detect_performers,
    TAGS_FIELD.name: detect_tags,
}


def path_findings(scene: SceneSnapshot, indexes: LibraryIndexes, options: AnalysisOptions
                  ) -> list[Finding]:
    """Entities named by the scene's file path and title; never one Stash keeps out of its
    own auto-tag (``ignore_auto_tag``): a name that is also an ordinary word, for one."""
    text = scene.text()
    return [
        Finding(p.field, p.entity_id, p.name, p.confidence, p.reason, ChangeSource.PATH)
        for name, detect in PATH_DETECTORS.items()
        if options.detects(field := SCENE_FIELDS[name])
        for p in detect(text, indexes[field.entity_kind])
        if not indexes[field.entity_kind].get(p.entity_id).ignore_auto_tag
    ]


def details_findings(scene: SceneSnapshot, options: AnalysisOptions) -> list[Finding]:
    """Plain-text details for details carrying HTML markup."""
    cleaned = clean_details(scene.values[DETAILS.name]) if options.detects(DETAILS) else None
    if cleaned is None:
        return []
    return [Finding(DETAILS.name, None, "", DETAILS_CLEANING_CONFIDENCE,
                    DETAILS_CLEANING_REASON, ChangeSource.PATH, value=cleaned, reformat=True)]


class PathRun:
    chunk_size = SCENE_BATCH

    def __init__(self, indexes: LibraryIndexes, options: AnalysisOptions) -> None:
        self.indexes = indexes
        self.options = options

    def analyse(self, scenes: list[SceneSnapshot],
                check_cancelled: Callable[[], None]) -> ChunkOutcome:
        return ChunkOutcome(findings={
            scene.id: path_findings(scene, self.indexes, self.options)
            + details_findings(scene, self.options)
            for scene in scenes
        })

    def metadata(self) -> dict[str, Any]:
        return {}

    def notes(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


PATH_SOURCE = ProposalSource(
    name=ChangeSource.PATH, open=lambda indexes, options, _budget: PathRun(indexes, options),
    option_help="Propose what file paths and titles name, and plain-text details for "
    "details carrying HTML. Default true.",
)
