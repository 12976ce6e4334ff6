"""Proposal sources: where a plan's findings come from (file paths, the AI, stash-box).

Every source registers here once, from ``AnalysisConfig.ready`` (``register_source``), with
its ``ChangeSource`` value (the ``source`` of the changes it proposes), the option switching
it (``use_<name>`` in ``AnalysisOptions`` and the API, its default from a setting) and how an
analysis run opens it. A run opens the enabled sources, hands each chunk of scenes to every
one of them and builds the changes from all their findings together
(``analysis.proposals.ChangeBuilder``), so the confidence threshold, auto-accept, the
create-missing option and the field switches hold for every source alike. Adding a source is
one module with a ``ProposalSource`` and one ``register_source`` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the options, library and findings modules read this registry
    from analysis.budget import SharedBudget
    from analysis.library import LibraryIndexes, SceneSnapshot
    from analysis.options import AnalysisOptions
    from analysis.proposals import Finding


@dataclass
class ChunkOutcome:
    """What one source found in one chunk of scenes."""

    findings: dict[str, list[Finding]]  # scene id -> findings, for every scene it analysed
    stop: str | None = None  # "budget" or "cancelled": scenes not in findings were not analysed
    fatal: Exception | None = None  # an error every later request would meet too


class SourceRun(Protocol):
    """One analysis job's use of a source, from open to close."""

    chunk_size: int  # scenes per ``analyse`` call that suit this source

    def analyse(self, scenes: list[SceneSnapshot],
                check_cancelled: Callable[[], None]) -> ChunkOutcome: ...

    def metadata(self) -> dict[str, Any]:
        """What the plan's metadata keeps of this run (under ``sources.<name>``)."""
        ...

    def notes(self) -> list[str]:
        """What a reviewer should read first, for the plan's description."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ProposalSource:
    name: str  # a ChangeSource value: the ``source`` of its changes
    option_help: str
    # Opens the source for one job (or chunk of one) with the run's shared AI budget;
    # None when the options leave it nothing to do.
    open: Callable[[LibraryIndexes, AnalysisOptions, SharedBudget], SourceRun | None]
    setting: str | None = None  # the setting giving the option's default; None: on
    # Asks a server, so its speed is the server's: an analysis using it splits into chunks
    # that run on every worker of the ``ai`` queue (``analysis.generate``).
    remote: bool = False

    @property
    def option(self) -> str:
        """The switch in AnalysisOptions' JSON and the API ("use_ai")."""
        return f"use_{self.name}"


SOURCES: dict[str, ProposalSource] = {}


def register_source(source: ProposalSource) -> None:
    if source.name in SOURCES:
        raise ValueError(f"proposal source {source.name!r} is registered twice")
    SOURCES[source.name] = source


def open_sources(indexes: LibraryIndexes, options: AnalysisOptions,
                 budget: SharedBudget) -> dict[str, SourceRun]:
    """The runs of the sources ``options`` enable, by source name (closed by the caller)."""
    runs: dict[str, SourceRun] = {}
    try:
        for source in SOURCES.values():
            if options.uses(source.name) and (run := source.open(indexes, options, budget)):
                runs[source.name] = run
    except BaseException:
        for run in runs.values():
            run.close()
        raise
    return runs
