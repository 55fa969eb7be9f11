"""`signet install-desktop`: put Signet in this user's application menu, or take it out again.

The desktop entry, icons, AppStream metainfo and MIME types go under ``$XDG_DATA_HOME``
(default ``~/.local/share``). The entry's ``Exec`` names the ``signet-gui`` script of the
environment running this command (or the bundle's own binary), so a double-click starts the
Signet installed in a virtualenv without that environment being activated.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from app.core.errors import SignetError
from app.resources import resource_path

APP_ID = "io.github.signet.Signet"
GUI_SCRIPT = "signet-gui"

# Files update-mime-database derives from mime/packages/; removed once no package is left.
_MIME_DERIVED = ("XMLnamespaces", "aliases", "generic-icons", "globs", "globs2", "icons",
                 "magic", "mime.cache", "subclasses", "treemagic", "types", "version")


def data_home() -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset or relative (XDG spec)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / ".local" / "share"


def _icon_pngs() -> dict[int, Path]:
    icons = resource_path("icons")
    found = {}
    for path in icons.glob("signet-*.png"):
        match = re.fullmatch(r"signet-(\d+)\.png", path.name)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def placements() -> dict[Path, Path]:
    """Every file install-desktop writes: path relative to the data home -> bundled source."""
    entry = resource_path("desktop")
    files = {
        Path("applications", f"{APP_ID}.desktop"): entry / f"{APP_ID}.desktop",
        Path("metainfo", f"{APP_ID}.metainfo.xml"): entry / f"{APP_ID}.metainfo.xml",
        Path("mime", "packages", f"{APP_ID}.xml"): entry / f"{APP_ID}.mime.xml",
        Path("icons", "hicolor", "scalable", "apps", f"{APP_ID}.svg"):
            resource_path("icons", "signet.svg"),
    }
    for size, png in _icon_pngs().items():
        files[Path("icons", "hicolor", f"{size}x{size}", "apps", f"{APP_ID}.png")] = png
    return files


def gui_executable() -> Path:
    """What the desktop entry runs: the bundle's binary, or ``signet-gui`` beside this Python.

    ``sys.executable`` is not resolved: in a virtualenv it is the venv's ``bin/python``
    symlink, whose folder holds the scripts pip generated.
    """
    if getattr(sys, "frozen", False):
        return Path(sys.executable).absolute()
    script = Path(sys.executable).absolute().parent / GUI_SCRIPT
    if not script.is_file():
        raise SignetError(
            f"{script}: no {GUI_SCRIPT} script beside this Python; reinstall Signet in this "
            f"environment (pip install -e .) so pip generates it"
        )
    return script


def exec_argument(path: Path) -> str:
    """`path` as one argument of an Exec command line, quoted where the spec requires it."""
    text = str(path).replace("%", "%%")
    if re.search(r"[\s\"'\\><~|&;$*?#()`]", text):
        text = '"' + re.sub(r'(["`$\\])', r"\\\1", text) + '"'
    return text


def _string_value(text: str) -> str:
    """`text` as a desktop-entry string value, where a backslash is written twice."""
    return text.replace("\\", "\\\\")


def desktop_entry(template: str, executable: Path) -> str:
    """The packaged entry with ``Exec``/``TryExec`` pointing at `executable`."""
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = f"Exec={_string_value(exec_argument(executable))} %F"
        elif line.startswith("TryExec="):
            line = f"TryExec={_string_value(str(executable))}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _write(target: Path, data: bytes) -> None:
    """Write atomically: a temporary file beside `target`, then ``os.replace``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)


def _refresh(home: Path) -> list[str]:
    """Run the cache updaters that exist here; return a warning line for each that failed."""
    jobs = (
        ("update-desktop-database", ["-q", home / "applications"]),
        ("update-mime-database", [home / "mime"]),
        ("gtk-update-icon-cache", ["-q", "-t", "-f", home / "icons" / "hicolor"]),
    )
    warnings = []
    for tool, args in jobs:
        exe = shutil.which(tool)
        if exe is None or not Path(args[-1]).is_dir():
            continue
        done = subprocess.run([exe, *map(str, args)], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["no message"])[-1]
            warnings.append(f"{tool} failed ({detail})")
    return warnings


def install(home: Path | None = None) -> tuple[list[Path], list[str]]:
    """Install every file of `placements` under `home`; return the paths and updater warnings."""
    home = home or data_home()
    executable = gui_executable()
    written = []
    for relative, source in placements().items():
        target = home / relative
        if not source.is_file():
            raise SignetError(f"{source}: missing from this Signet installation; reinstall it")
        data = source.read_bytes()
        if target.suffix == ".desktop":
            data = desktop_entry(data.decode("utf-8"), executable).encode("utf-8")
        try:
            _write(target, data)
        except OSError as exc:
            raise SignetError(f"{target}: cannot write ({exc.strerror}); check the folder's "
                              f"permissions or set XDG_DATA_HOME") from exc
        written.append(target)
    return written, _refresh(home)


def uninstall(home: Path | None = None) -> tuple[list[Path], list[str]]:
    """Remove what `install` wrote, the caches that then index nothing, and emptied folders."""
    home = home or data_home()
    removed = []
    for relative in placements():
        target = home / relative
        if target.is_file() or target.is_symlink():
            target.unlink()
            removed.append(target)
    warnings = _refresh(home)
    _drop_orphan_caches(home)
    for relative in placements():
        _prune_empty(home / relative.parent, home)
    return removed, warnings


def _drop_orphan_caches(home: Path) -> None:
    """Delete updater output that indexes nothing now, so a fresh install leaves no trace."""
    mime = home / "mime"
    packages = mime / "packages"
    if mime.is_dir() and not (packages.is_dir() and any(packages.iterdir())):
        for name in _MIME_DERIVED:
            (mime / name).unlink(missing_ok=True)
        for media in mime.iterdir():  # per-type folders such as application/, now empty
            if media.is_dir() and media != packages and not any(media.iterdir()):
                media.rmdir()
    applications = home / "applications"
    if applications.is_dir() and not any(applications.rglob("*.desktop")):
        (applications / "mimeinfo.cache").unlink(missing_ok=True)
    hicolor = home / "icons" / "hicolor"
    cache = hicolor / "icon-theme.cache"
    if cache.is_file() and not any(p.is_file() and p != cache for p in hicolor.rglob("*")):
        cache.unlink()


def _prune_empty(folder: Path, home: Path) -> None:
    """Remove `folder` and its parents while they are empty, stopping below `home`."""
    while folder != home and home in folder.parents and folder.is_dir():
        if any(folder.iterdir()):
            return
        folder.rmdir()
        folder = folder.parent


def run_install_desktop(args: argparse.Namespace) -> int:
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        raise SignetError("install-desktop writes a freedesktop.org menu entry; it is for "
                          "Linux and BSD desktops only")
    home = data_home()
    if args.uninstall:
        paths, warnings = uninstall(home)
        verb = "Removed"
    else:
        paths, warnings = install(home)
        verb = "Installed"
    for path in paths:
        print(f"{verb} {path}")
    for warning in warnings:
        print(f"signet: warning: {warning}", file=sys.stderr)
    if args.uninstall:
        print("Signet is no longer in your application menu." if paths
              else f"Nothing to remove under {home}.")
    else:
        print("Signet is in your application menu; `signet install-desktop --uninstall` "
              "removes it.")
    return 0
