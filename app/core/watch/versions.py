"""The versions in ``BASE/NAME``: which to keep, their labels, and removing one safely.

A watch owns the versions it published (listed in its state) and nothing else: a
version exported by hand, or by another tool, is listed for the user but never
collected. ``models.config`` serves exactly the versions the watch keeps.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import SignetError
from app.core.export.publish import versions as version_folders
from app.core.watch.compat import facts_of_saved_model
from app.core.watch.policy import Policy
from app.core.watch.serving_config import labels_of, update_config
from app.core.watch.state import Published, WatchState, changing, read_state

DELETING_PREFIX = ".signet-deleting-"


def policy_of(state: WatchState) -> Policy:
    """The policy the state was last watched with (the defaults when never watched)."""
    return Policy(**state.policy) if state.policy else Policy()


def ranked(state: WatchState, policy: Policy) -> list[Published]:
    """The watch's versions, best first (by metric under ``best``, newest under ``latest``)."""
    return sorted(state.published, key=lambda p: policy.rank_key(p.metric, p.version))


def labels(state: WatchState, policy: Policy) -> dict[str, int]:
    """``stable``: the pinned version, else the best metric; ``canary``: the newest."""
    if not state.published:
        return {}
    ours = state.by_version()
    if state.stable in ours:
        stable = state.stable
    else:
        scored = [p for p in state.published if p.metric is not None]
        sign = 1.0 if policy.mode == "min" else -1.0
        stable = min(scored, key=lambda p: (sign * p.metric, -p.version)).version \
            if scored else max(ours)
    return {"stable": stable, "canary": max(ours)}


def beyond_keep(state: WatchState, policy: Policy) -> list[Published]:
    """The watch's versions past the ``keep`` best (or newest); the pinned stable stays."""
    extra = ranked(state, policy)[policy.keep:]
    return [p for p in extra if p.version != state.stable]


def sync_serving(base: Path, name: str, state: WatchState) -> Path:
    """Write NAME's ``models.config`` entry: the watch's versions and their labels."""
    return update_config(base, name, [p.version for p in state.published],
                         labels(state, policy_of(state)))


def clean_deleting(model_folder: Path) -> None:
    """Finish deletions a killed process left half done (their folders were renamed
    aside first, so TF Serving never saw them)."""
    for aside in model_folder.glob(DELETING_PREFIX + "*"):
        shutil.rmtree(aside, ignore_errors=True)


def remove_folder(folder: Path) -> None:
    """Take a version away in one rename (TF Serving never sees half of it), then delete."""
    if not folder.exists():
        return
    aside = Path(tempfile.mkdtemp(prefix=DELETING_PREFIX, dir=folder.parent))
    folder.rename(aside / folder.name)
    shutil.rmtree(aside, ignore_errors=True)


@dataclass(frozen=True)
class VersionRow:
    """One version folder as the Versions view lists it."""

    version: int
    step: int | None  # None: not published by a watch
    metric: float | None
    published_at: float
    signature: dict[str, Any]
    labels: tuple[str, ...]
    ours: bool


def model_versions(base: Path, name: str) -> list[VersionRow]:
    """Every version folder in ``BASE/NAME``, newest first, with what the watch knows."""
    folder = base / name
    state = read_state(folder)
    ours = state.by_version()
    try:
        served = labels_of(base, name)
    except SignetError:
        served = {}
    by_version: dict[int, list[str]] = {}
    for label, version in sorted(served.items()):
        by_version.setdefault(version, []).append(label)
    rows = []
    for version in reversed(version_folders(folder)):
        mine = ours.get(version)
        if mine is not None:
            rows.append(VersionRow(version, mine.step, mine.metric, mine.published_at,
                                   mine.signature, tuple(by_version.get(version, ())), True))
        else:
            path = folder / str(version)
            rows.append(VersionRow(version, None, None, path.stat().st_mtime,
                                   facts_of_saved_model(path) or {},
                                   tuple(by_version.get(version, ())), False))
    return rows


def move_stable(base: Path, name: str, version: int) -> None:
    """Pin the ``stable`` label to one of the watch's versions."""
    with changing(base / name) as state:
        if version not in state.by_version():
            raise SignetError(f"version {version} was not published by a watch; labels go "
                              "only on the versions models.config serves")
        state.stable = version
        sync_serving(base, name, state)


def delete_version(base: Path, name: str, version: int) -> None:
    """Delete ``version`` (the user asked): out of models.config first, then off disk."""
    folder = base / name / str(version)
    if not folder.is_dir():
        raise SignetError(f"{folder}: no such version")
    with changing(base / name) as state:
        state.published = [p for p in state.published if p.version != version]
        if state.stable == version:
            state.stable = None
        sync_serving(base, name, state)
    remove_folder(folder)
