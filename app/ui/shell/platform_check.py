"""Before Qt starts on X11: are the xcb platform plugin's system libraries there?

Without them Qt prints "Could not load the Qt platform plugin "xcb"" and aborts
the process, which tells a new user nothing about what to install. Ubuntu
desktops lack ``libxcb-cursor0`` by default, and minimal Debian installs lack the
``xcb-util`` libraries. This module imports no Qt: it tries to load each library
the plugin needs (Qt's documented list for its xcb plugin) and names the packages
that provide the missing ones.
"""

from __future__ import annotations

import ctypes
import os
import sys

# soname -> (Debian/Ubuntu package, Fedora/RHEL package)
XCB_LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}


def uses_xcb(environ: dict[str, str] | None = None) -> bool:
    """Whether Qt will pick its xcb plugin (Linux/BSD, no other platform asked for)."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return False
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(";")[0].split(":")[0] == "xcb"
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland")


def missing_xcb_libraries() -> list[str]:
    """The sonames of `XCB_LIBRARIES` this system cannot load."""
    missing = []
    for soname in XCB_LIBRARIES:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def missing_libraries_message(missing: list[str]) -> str:
    """One line: what is missing, the packages, and the command that installs them."""
    apt = list(dict.fromkeys(XCB_LIBRARIES[s][0] for s in missing))
    dnf = list(dict.fromkeys(XCB_LIBRARIES[s][1] for s in missing))
    return (f"signet: Qt cannot open a window: its xcb platform plugin needs {', '.join(missing)}"
            f"; install them with: sudo apt-get install {' '.join(apt)}"
            f" (Fedora/RHEL: sudo dnf install {' '.join(dnf)})")


def xcb_problem() -> str | None:
    """The line to print instead of letting Qt abort, or None when the window can open."""
    if not uses_xcb():
        return None
    missing = missing_xcb_libraries()
    return missing_libraries_message(missing) if missing else None
