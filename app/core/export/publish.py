"""Atomic publishing into ``BASE/NAME/VERSION`` for TensorFlow Serving.

TensorFlow Serving polls ``BASE/NAME`` and loads integer-named folders, so a
version must appear complete or not at all. Each export writes into a hidden
staging folder inside ``BASE/NAME`` (same filesystem, so the final step is one
``rename``), holds an ``flock`` on it while alive, fsyncs everything, and renames
the finished SavedModel to its version under a lock on ``BASE/NAME`` itself, so
concurrent exports get distinct versions. The kernel drops a dead process's
locks (even after ``kill -9``), which is how the next export knows a leftover
staging folder is garbage and removes it, after putting back the version an
``overwrite`` had moved aside into it if its replacement never took its place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from app.core.disk.plain_path import PATTERN_CHARACTERS, is_pattern, is_utf8
from app.core.errors import ExportError

STAGING_PREFIX = ".signet-export-"
SAVED = "saved_model"  # the builder's folder inside the staging folder
REPLACED = "replaced-"  # + version: an overwritten version, inside the staging folder
# TF Serving reads a version folder's name as an int64; a longer number is no version to it.
MAX_VERSION = 2**63 - 1

try:  # POSIX; on other systems leftovers are only removed once they are a day old
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def versions(folder: Path) -> list[int]:
    """Integer-named subfolders of ``folder`` (the published versions), ascending: only
    the ones TF Serving loads (ASCII digits, within int64), so a stray ``99999…`` folder
    never makes every later export continue beyond what it can load."""
    try:
        names = [p.name for p in folder.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []
    found = (int(n) for n in names if n.isascii() and n.isdigit())
    return sorted(v for v in found if v <= MAX_VERSION)


def next_version(base: str | os.PathLike[str], name: str) -> int:
    """One more than the highest published version (1 when there is none)."""
    found = versions(Path(base) / name)
    return found[-1] + 1 if found else 1


NAME_MAX = 255  # bytes in one file name (ext4, APFS, NTFS)


def check_target(base: str | os.PathLike[str], name: str, version: int | None,
                 overwrite: bool) -> None:
    """Fail early (before any work) on a bad model name, an existing version or a base
    folder that cannot be written. The words name no command-line flag: the window shows
    them as they are."""
    if not name or name in (".", "..") or "/" in name or os.sep in name or \
            name.startswith(".") or "\0" in name or \
            len(name.encode("utf-8", "surrogatepass")) > NAME_MAX:
        raise ExportError(f"model name {name[:60]!r}{'…' if len(name) > 60 else ''}: give a "
                          f"plain folder name for the model (at most {NAME_MAX} bytes), such "
                          "as 'encoder'")
    if is_pattern(name):
        raise ExportError(f"model name {name!r}: TensorFlow Serving reads a model's files "
                          f"through a file pattern, where {' '.join(PATTERN_CHARACTERS)} are "
                          "wildcards, so it could not load it — give a name without them")
    if not str(base):
        raise ExportError("no base folder given: give the folder TensorFlow Serving reads "
                          "models from")
    if "\0" in str(base):
        raise ExportError(f"base folder {str(base)!r} holds a NUL character: give the folder "
                          "TensorFlow Serving reads models from")
    if not is_utf8(Path(base).absolute() / name):
        raise ExportError(f"{Path(base) / name}: not a UTF-8 path — TensorFlow writes and "
                          "TensorFlow Serving reads only UTF-8 file names; rename the folder")
    model_folder = Path(base) / name
    if model_folder.is_dir():  # first put back what a dead export's overwrite set aside
        with contextlib.suppress(OSError), _folder_lock(model_folder):
            clean_leftovers(model_folder)
    if version is not None:
        if version < 1:
            raise ExportError(f"version {version}: versions are positive integers")
        if version > MAX_VERSION:
            raise ExportError(f"version {version}: too large — TensorFlow Serving reads "
                              f"versions as 64-bit integers (at most {MAX_VERSION})")
        target = Path(base) / name / str(version)
        if target.exists() and not overwrite:
            free = next_version(base, name)
            raise ExportError(f"{target} already exists; pick another version (the next free "
                              f"one is {free}) or overwrite it")
    base_path = Path(base)
    if base_path.exists() and not base_path.is_dir():
        raise ExportError(f"{base}: is a file, not a folder — give the folder "
                          "TensorFlow Serving reads models from")
    if base_path.is_dir():
        try:  # a real write: os.access says "permission denied" on a read-only disk
            with tempfile.TemporaryFile(dir=base_path):
                pass
        except OSError as exc:
            raise ExportError(f"{base}: {io_words(exc)} — pick a folder you can write "
                              "to") from exc


def io_words(exc: OSError) -> str:
    """What a failed write means, in the words a user searches for."""
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    return exc.strerror or str(exc)


def _lock(fd: int, block: bool) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY)
    try:
        _lock(fd, block=True)
        yield
    finally:
        os.close(fd)


def clean_leftovers(model_folder: Path) -> list[Path]:
    """Remove staging folders whose export is no longer running; return them."""
    removed = []
    for path in model_folder.glob(STAGING_PREFIX + "*"):
        if not path.is_dir():
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if fcntl is None:  # pragma: no cover
                import time

                stale = time.time() - path.stat().st_mtime > 86400
            else:
                stale = _lock(fd, block=False)
            if stale:
                _put_back(path, model_folder)
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        finally:
            os.close(fd)
    return removed


def set_aside(target: Path, aside: Path) -> None:
    """Move a version about to be overwritten into its export's staging folder."""
    os.rename(target, aside)


def _put_back(staging: Path, model_folder: Path) -> None:
    """Return the version a dead export had set aside (`set_aside`) to its place, unless
    that export got as far as publishing its replacement there."""
    for aside in staging.glob(REPLACED + "*"):
        target = model_folder / aside.name[len(REPLACED):]
        if aside.is_dir() and not target.exists():
            with contextlib.suppress(OSError):
                os.rename(aside, target)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass
    finally:
        os.close(fd)


class Staging:
    """A hidden, locked folder inside ``BASE/NAME`` where one export is written.

    ``saved_dir`` is where the SavedModel goes; `publish` renames it to the
    version; `discard` removes everything this export created.
    """

    def __init__(self, base: str | os.PathLike[str], name: str) -> None:
        self.model_folder = Path(base).absolute() / name
        self._created_model_folder = not self.model_folder.exists()
        try:
            self.model_folder.mkdir(parents=True, exist_ok=True)
            # Under the model folder's lock, so another export's cleanup can never see
            # this staging folder between its creation and its own lock.
            with _folder_lock(self.model_folder):
                self.cleaned = clean_leftovers(self.model_folder)
                self.folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX,
                                                    dir=self.model_folder))
                self._fd: int | None = os.open(self.folder, os.O_RDONLY)
                _lock(self._fd, block=True)
        except OSError as exc:
            raise ExportError(f"{self.model_folder}: cannot write here "
                              f"({exc.strerror or exc})") from exc
        self.saved_dir = self.folder / SAVED
        self.published: Path | None = None

    def publish(self, version: int | None, overwrite: bool) -> tuple[Path, int]:
        """Flush and rename the SavedModel to ``version`` (None: the next free one)."""
        fsync_tree(self.saved_dir)
        with _folder_lock(self.model_folder):
            if version is None:
                version = next_version(self.model_folder.parent, self.model_folder.name)
            target = self.model_folder / str(version)
            aside = self.folder / f"{REPLACED}{version}"
            if target.exists():
                if not overwrite:
                    raise ExportError(f"{target} already exists (another export took it); "
                                      "nothing was published")
                # Move the old version aside inside the staging folder, then swap in. A
                # crash in between leaves it there, and the next export puts it back.
                set_aside(target, aside)
            try:
                os.rename(self.saved_dir, target)
            except OSError as exc:
                if aside.exists():
                    os.rename(aside, target)
                raise ExportError(f"{target}: cannot publish ({exc.strerror})") from exc
            _fsync_dir(self.model_folder)
        self.published = target
        self.close()
        return target, version

    def close(self) -> None:
        """Remove the staging folder (keeping any published version) and unlock."""
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """Undo everything: the staging folder, and ``BASE/NAME`` if this export made it."""
        self.close()
        if self._created_model_folder and self.published is None:
            with contextlib.suppress(OSError):
                self.model_folder.rmdir()  # only when empty
