"""What a watch remembers, kept in ``BASE/NAME/.signet-watch.json`` beside the versions.

Estimator's `BestExporter` kept its best value in memory and rebuilt it from the eval
files after a restart, and could then export a worse model (tensorflow#47396). Here
the best value so far and every version the watch published live in a JSON file in
the model folder itself, replaced atomically (temporary file, fsync, ``os.replace``)
and changed only under an ``flock`` on ``.signet-watch.lock``, which the kernel drops
when a process dies (even by ``kill -9``). A version is first written down as
*pending*, then exported; a restart that finds a pending version whose folder exists
adopts it (the publish finished, the note did not), and forgets it otherwise.

TensorFlow Serving loads only integer-named folders, so these dot files are never
mistaken for a version.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import SignetError

STATE_FILE = ".signet-watch.json"
LOCK_FILE = ".signet-watch.lock"
FORMAT = 1

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one watch per model folder by convention
    fcntl = None  # type: ignore[assignment]


@dataclass
class Published:
    version: int
    step: int
    metric: float | None
    published_at: float  # seconds since the epoch
    checkpoint: str
    signature: dict[str, Any] = field(default_factory=dict)  # see `compat`
    key: str = ""  # the checkpoint's `Candidate.key`


@dataclass
class WatchState:
    policy: dict[str, Any] = field(default_factory=dict)  # `Policy` fields, as last watched
    model_dir: str = ""  # the run folder last watched
    draft: dict[str, Any] | None = None  # the signature exported (preset JSON)
    best: float | None = None  # the best metric value published so far
    offset: int = 0  # version = step + offset (raised when a new run starts lower)
    high: int = 0  # the highest version number considered so far
    seen: dict[str, str] = field(default_factory=dict)  # candidate key -> outcome
    published: list[Published] = field(default_factory=list)
    pending: Published | None = None
    stable: int | None = None  # the version the user pinned the stable label to

    def by_version(self) -> dict[int, Published]:
        return {p.version: p for p in self.published}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = FORMAT
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WatchState:
        if data.get("format", FORMAT) > FORMAT:
            raise SignetError(f"{STATE_FILE} was written by a newer Signet (format "
                              f"{data['format']}); update Signet to watch this model")
        pending = data.get("pending")
        return cls(policy=dict(data.get("policy", {})), model_dir=data.get("model_dir", ""),
                   draft=data.get("draft"), best=data.get("best"),
                   offset=int(data.get("offset", 0)), high=int(data.get("high", 0)),
                   seen=dict(data.get("seen", {})),
                   published=[Published(**p) for p in data.get("published", [])],
                   pending=Published(**pending) if pending else None,
                   stable=data.get("stable"))


def read_state(model_folder: Path) -> WatchState:
    """The state in ``model_folder`` (an empty one when the watch never ran there)."""
    path = model_folder / STATE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return WatchState()
    except OSError as exc:
        raise SignetError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return WatchState.from_json(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        raise SignetError(f"{path}: unreadable watch state ({exc}); it was written "
                          "atomically, so something else changed it — restore or delete it"
                          ) from exc


def write_state(model_folder: Path, state: WatchState) -> None:
    """Replace the state file atomically: readers see the old or the new one, whole."""
    write_atomically(model_folder / STATE_FILE,
                     json.dumps(state.to_json(), indent=1, sort_keys=True) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, flush it, rename it over."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(folder)


@contextlib.contextmanager
def changing(model_folder: Path) -> Iterator[WatchState]:
    """Read the state under the model folder's watch lock; write it back on success.

    Watches and the window's actions change the state this way only, so two of them
    never lose each other's change; the lock is held for the read-modify-write alone,
    never across an export.
    """
    model_folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(model_folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        state = read_state(model_folder)
        yield state
        write_state(model_folder, state)
    finally:
        os.close(fd)  # closing drops the lock
