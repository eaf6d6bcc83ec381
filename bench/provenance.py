"""Where a record came from: the git checkout, and tool versions merged, stamped on every stored record.

Shared by ``edgebench time`` and the pipeline, so a record says the same thing whichever path made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from common import process
from results.schema import RunRecord, ToolVersions

_GIT_TIMEOUT_SECS = 10


@dataclass(frozen=True)
class Provenance:
    """The checkout this process runs from."""

    git_commit: str | None  # HEAD of the current directory's checkout; None outside one
    git_dirty: bool | None  # tracked files changed since that commit

    @classmethod
    def unknown(cls) -> Provenance:
        """No checkout known (a planning pass, which stores nothing)."""
        return cls(None, None)

    def stamp(self, record: RunRecord, artifact_tools: dict | None = None) -> RunRecord:
        """``record`` with this provenance; tool versions merged, most specific first.

        Args:
            record: A record as a runner returned it (or as the cache kept it).
            artifact_tools: The converter's tool versions from the artifact's sidecar, when known.

        Returns:
            The record with git commit and dirty flag set, and the converter's tool versions added to
            what the runner reported (the runner's win: this process's own versions say nothing of a
            phone's or a board's LiteRT, so they are never filled in).
        """
        layers = [artifact_tools or {}, record.tools.model_dump()]
        tools: dict = {}
        for layer in layers:
            tools.update({k: v for k, v in layer.items() if v is not None and k in ToolVersions.model_fields})
        return record.model_copy(
            update={
                "git_commit": self.git_commit,
                "git_dirty": self.git_dirty,
                "tools": ToolVersions(**tools),
            }
        )


def run_provenance() -> Provenance:
    """git commit and dirty flag of the current directory's checkout (best effort)."""
    commit = dirty = None
    try:
        commit = process.run(["git", "rev-parse", "HEAD"], timeout=_GIT_TIMEOUT_SECS).stdout.strip() or None
        status = process.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], timeout=_GIT_TIMEOUT_SECS
        )
        dirty = bool(status.stdout.strip())
    except (process.CommandError, process.CommandTimeout, FileNotFoundError):
        pass  # not a checkout, no commit yet, or no git: the record says None
    return Provenance(commit, dirty)
