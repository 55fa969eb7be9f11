"""Paths TensorFlow reads as file patterns, and plain stand-ins for them.

TensorFlow's restore kernel (``RestoreV2``, which ``Saver.restore``, the C++
SavedModel loader and so TensorFlow Serving all run) first looks the checkpoint's
``.index`` up with ``GetMatchingPaths``: ``*``, ``?``, ``[`` and ``\\`` in the
path are wildcards and escapes there, so ``ck [1]/model.ckpt-10`` matches nothing and
the restore fails with "Failed to find any matching files". The same string is then
opened as it is, so escaping it cannot help. A file name that is not UTF-8 cannot
even be handed over ("Unable to convert element to UTF-8"). What does: a fresh
temporary folder (a plain name) holding links to the real files, read in their place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PATTERN_CHARACTERS = "*?[\\"


def is_pattern(path: str | os.PathLike[str]) -> bool:
    """Whether TensorFlow's file-pattern matching would not read ``path`` as itself."""
    return any(c in str(path) for c in PATTERN_CHARACTERS)


def is_utf8(path: str | os.PathLike[str]) -> bool:
    """Whether TensorFlow can take ``path`` at all (its strings are UTF-8; a file name's
    undecodable bytes come to Python as surrogate escapes)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_plain(path: str | os.PathLike[str]) -> bool:
    """Whether TensorFlow reads ``path`` as itself: UTF-8, and no pattern character."""
    return is_utf8(path) and not is_pattern(path)


@contextlib.contextmanager
def _links() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="signet-plain-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def plain_prefix(prefix: str | os.PathLike[str]) -> Iterator[Path]:
    """A checkpoint prefix TensorFlow can restore from: ``prefix`` itself, or (when it is
    not `is_plain`) one whose ``.index`` and ``.data-*`` files link to ``prefix``'s."""
    prefix = Path(prefix)
    if is_plain(prefix.absolute()):
        yield prefix
        return
    with _links() as folder:
        stand_in = folder / "checkpoint"
        for name in os.listdir(prefix.parent):
            if name == prefix.name + ".index" or name.startswith(prefix.name + ".data-"):
                (folder / ("checkpoint" + name[len(prefix.name):])).symlink_to(
                    prefix.parent.absolute() / name)
        yield stand_in


@contextlib.contextmanager
def plain_folder(folder: Path) -> Iterator[Path]:
    """``folder`` itself, or (when it is not `is_plain`) a link to it at a plain path
    for as long as the context lasts."""
    if is_plain(folder.absolute()):
        yield folder
        return
    with _links() as links:
        stand_in = links / "model"
        stand_in.symlink_to(folder.absolute(), target_is_directory=True)
        yield stand_in
