"""Where Signet's run-time files live: ``app/data/``, package data of `app`.

The demo checkpoint, the icons and the desktop entry ship inside the package, so a wheel
(pip, pipx, a private index, a ``git+`` URL) carries them and a PyInstaller bundle puts them
at the same place under its folder; `importlib.resources` finds them in both, and in a
checkout. Build material (the scripts that regenerate them, the PyInstaller spec) stays in
``resources/`` and ``packaging/`` at the top of the repository.
"""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path

from app.core.errors import SignetError

DISTRIBUTION = "signet"


def resource_path(*parts: str) -> Path:
    """The file or folder ``app/data/<parts>`` on disk.

    A checkpoint is opened by path (TensorFlow and the readers want a real folder), so a
    package imported from a zip file, whose data has no path, is refused in words.
    """
    data = resources.files("app").joinpath("data", *parts)
    if not isinstance(data, Path):
        raise SignetError(f"{data}: Signet's data files are not on disk (is it imported from "
                          "a zip file?); install it with pip or pipx")
    return data


def readme_text() -> str | None:
    """The README: the checkout's (or the bundle's) file beside `app`, else the long
    description pip recorded from it when the wheel was installed; None if neither exists."""
    beside = resource_path().parent.parent / "README.md"
    if beside.is_file():
        return beside.read_text(encoding="utf-8")
    try:
        recorded = metadata.metadata(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    return recorded.get_payload() or recorded.get("Description") or None
