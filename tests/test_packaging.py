"""Packaging: icons, the desktop entry, AppStream metainfo, MIME types, install-desktop, and
the wheel installed the way users install Python apps."""

from __future__ import annotations

import configparser
import importlib.util
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app import __version__
from app.cli import main as cli_main
from app.commands import desktop

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "app" / "data"
LINUX = DATA / "desktop"
ICONS = DATA / "icons"
RENDER_ICONS = ROOT / "resources" / "icons" / "render_icons.py"
ENTRY = LINUX / f"{desktop.APP_ID}.desktop"
METAINFO = LINUX / f"{desktop.APP_ID}.metainfo.xml"
MIME_XML = LINUX / f"{desktop.APP_ID}.mime.xml"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
UPDATERS = ("update-desktop-database", "update-mime-database", "gtk-update-icon-cache")
INSTALL_HINT = ("apt-get install desktop-file-utils appstream shared-mime-info "
                "gtk-update-icon-cache")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed here ({INSTALL_HINT}); .ci/run installs it")
    return path


def _render_icons():
    spec = importlib.util.spec_from_file_location("render_icons", RENDER_ICONS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def _validate_entry(path: Path) -> None:
    result = subprocess.run([_tool("desktop-file-validate"), str(path)], capture_output=True,
                            text=True)
    problems = [line for line in result.stdout.splitlines() if ": hint:" not in line]
    assert result.returncode == 0 and problems == [], result.stdout + result.stderr


def _files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*"))


def test_icon_pngs_exist_for_every_size_and_match_their_names():
    render_icons = _render_icons()
    pngs = {int(re.fullmatch(r"signet-(\d+)\.png", p.name).group(1)): p
            for p in ICONS.glob("signet-*.png")}
    assert sorted(pngs) == list(render_icons.SIZES)
    assert min(pngs) == 16 and max(pngs) == 512
    for size, path in pngs.items():
        image = QImage(str(path))
        assert not image.isNull(), path
        assert (image.width(), image.height()) == (size, size), path
        assert image.hasAlphaChannel(), path


def test_committed_pngs_are_the_rendered_svg(qapp):
    render_icons = _render_icons()
    for size in (16, 48, 256):
        fresh = render_icons.render(size).convertToFormat(QImage.Format.Format_ARGB32)
        committed = QImage(str(render_icons.png_path(size))).convertToFormat(
            QImage.Format.Format_ARGB32)
        worst = max(
            abs(a - b)
            for a, b in zip(fresh.constBits().tobytes(), committed.constBits().tobytes(),
                            strict=True)
        )
        assert worst <= 8, f"signet-{size}.png is stale: run resources/icons/render_icons.py"


def test_desktop_entry_validates():
    _validate_entry(ENTRY)


def test_desktop_entry_launches_the_gui_script_and_declares_the_mime_types():
    entry = _entry(ENTRY)
    assert entry["Exec"] == "signet-gui %F" and entry["TryExec"] == "signet-gui"
    assert entry["Icon"] == desktop.APP_ID
    assert entry["Terminal"] == "false" and entry["StartupNotify"] == "true"
    assert entry["StartupWMClass"] == "Signet"
    assert entry["Categories"].startswith("Development;Science;")
    declared = {t.get("type") for t in ET.parse(MIME_XML).getroot()}
    assert set(filter(None, entry["MimeType"].split(";"))) == declared
    provided = {m.text for m in ET.parse(METAINFO).getroot().iter("mediatype")}
    assert provided == declared


def test_metainfo_validates_and_matches_the_project():
    result = subprocess.run([_tool("appstreamcli"), "validate", "--no-net", str(METAINFO)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == desktop.APP_ID
    assert root.findtext("launchable[@type='desktop-id']") == ENTRY.name
    assert root.find("releases/release").get("version") == __version__
    assert root.find("content_rating") is not None
    assert root.findtext("screenshots/screenshot/image").startswith("https://")


def test_metainfo_screenshot_is_the_readme_screenshot():
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())
    if not images:
        pytest.skip("README.md shows no screenshot yet")
    url = ET.parse(METAINFO).getroot().findtext("screenshots/screenshot/image")
    assert any(url.endswith("/" + image.lstrip("./")) for image in images), (url, images)


def test_mime_types_glob_checkpoint_files():
    root = ET.parse(MIME_XML).getroot()
    globs = {t.get("type"): {g.get("pattern") for g in t.iter(f"{MIME_NS}glob")}
             for t in root.iter(f"{MIME_NS}mime-type")}
    assert "*.meta" in globs["application/x-tensorflow-checkpoint-meta"]
    assert "*.index" in globs["application/x-tensorflow-checkpoint-index"]


def test_pyproject_has_console_and_gui_entry_points():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"signet": "app.cli:main"}
    assert project["gui-scripts"] == {"signet-gui": "app.ui.shell.launch:main"}


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    home = tmp_path / "share"
    home.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.fixture(params=["with cache updaters", "without cache updaters"])
def updaters(request, tmp_path, monkeypatch):
    """The cache updaters this run has: those installed here, or none (an empty PATH)."""
    if request.param.startswith("with "):
        present = {tool for tool in UPDATERS if shutil.which(tool)}
        if not present:
            pytest.skip(f"none of {', '.join(UPDATERS)} is installed ({INSTALL_HINT})")
        return present
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return set()


def test_install_desktop_writes_every_file_and_uninstall_removes_them_all(
        data_home, updaters, capsys):
    assert cli_main(["install-desktop"]) == 0
    for relative, source in desktop.placements().items():
        target = data_home / relative
        assert target.is_file(), relative
        if target.suffix != ".desktop":
            assert target.read_bytes() == source.read_bytes(), relative
    sizes = sorted(int(p.parent.parent.name.split("x")[0])
                   for p in (data_home / "icons" / "hicolor").glob("*x*/apps/*.png"))
    assert sizes == list(_render_icons().SIZES)
    if "update-mime-database" in updaters:
        assert "application/x-tensorflow-checkpoint-meta:*.meta" in (
            data_home / "mime" / "globs2").read_text()
    if "update-desktop-database" in updaters:
        cache = (data_home / "applications" / "mimeinfo.cache").read_text()
        assert f"application/x-tensorflow-checkpoint-index={desktop.APP_ID}.desktop;" in cache
    assert (data_home / "icons" / "hicolor" / "icon-theme.cache").is_file() == (
        "gtk-update-icon-cache" in updaters)
    assert "application menu" in capsys.readouterr().out

    assert cli_main(["install-desktop", "--uninstall"]) == 0
    assert _files(data_home) == []
    assert cli_main(["install-desktop", "--uninstall"]) == 0
    assert "Nothing to remove" in capsys.readouterr().out


def test_installed_entry_validates_and_runs_this_environments_gui_script(data_home):
    desktop.install(data_home)
    installed = data_home / "applications" / ENTRY.name
    entry = _entry(installed)
    script = Path(sys.executable).absolute().parent / "signet-gui"
    assert entry["Exec"] == f"{script} %F"
    assert entry["TryExec"] == str(script)
    assert script.is_file()
    _validate_entry(installed)


def test_uninstall_keeps_other_applications_files(data_home, updaters):
    other_entry = data_home / "applications" / "other.desktop"
    other_entry.parent.mkdir(parents=True)
    other_entry.write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=other %f\n"
                           "MimeType=text/plain;\n")
    other_icon = data_home / "icons" / "hicolor" / "48x48" / "apps" / "other.png"
    other_icon.parent.mkdir(parents=True)
    shutil.copy(ICONS / "signet-48.png", other_icon)
    before = {p: p.read_bytes() for p in (other_entry, other_icon)}

    desktop.install(data_home)
    desktop.uninstall(data_home)

    assert {p: p.read_bytes() for p in before} == before
    leftovers = [f for f in _files(data_home) if desktop.APP_ID in f or "tensorflow" in f]
    assert leftovers == []
    cache = data_home / "applications" / "mimeinfo.cache"
    if "update-desktop-database" in updaters:
        assert "other.desktop" in cache.read_text()
        assert desktop.APP_ID not in cache.read_text()


def test_exec_quotes_paths_the_desktop_spec_reserves(tmp_path):
    assert desktop.exec_argument(Path("/opt/venv/bin/signet-gui")) == "/opt/venv/bin/signet-gui"
    assert desktop.exec_argument(Path("/home/a b/bin/signet-gui")) == '"/home/a b/bin/signet-gui"'
    assert (desktop.exec_argument(Path('/x/$HOME "q"/100%/signet-gui'))
            == '"/x/\\$HOME \\"q\\"/100%%/signet-gui"')
    odd = Path("/home/Ada Lovelace/$env\\x/bin/signet-gui")
    entry = tmp_path / ENTRY.name
    entry.write_text(desktop.desktop_entry(ENTRY.read_text(), odd))
    _validate_entry(entry)
    assert _entry(entry)["TryExec"] == str(odd).replace("\\", "\\\\")


def test_missing_gui_script_is_one_clear_line(data_home, tmp_path, monkeypatch, capsys):
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    monkeypatch.setattr(sys, "executable", str(python))
    assert cli_main(["install-desktop"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"signet: {python.parent / 'signet-gui'}: no signet-gui script")
    assert "pip install" in err and "\n" not in err
    assert _files(data_home) == []


def test_a_frozen_bundle_points_the_entry_at_its_own_binary(tmp_path, monkeypatch):
    binary = tmp_path / "dist" / "signet" / "signet"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(binary))
    assert desktop.gui_executable() == binary


def test_bundle_entry_sends_desktop_launches_to_the_window_and_the_rest_to_the_cli(tmp_path):
    path = ROOT / "packaging" / "pyinstaller" / "signet_entry.py"
    spec = importlib.util.spec_from_file_location("signet_entry", path)
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    checkpoint = tmp_path / "model.ckpt-1.meta"
    checkpoint.write_bytes(b"")
    assert entry.wants_window([])
    assert entry.wants_window(["--demo"])
    assert entry.wants_window([str(checkpoint), str(tmp_path)])
    assert not entry.wants_window(["inspect", str(checkpoint)])
    assert not entry.wants_window(["--version"])


def _source_tree(destination: Path) -> Path:
    """The files git would hand `pip install git+URL` (tracked or new, not ignored), copied,
    so building writes its build/ and egg-info there and not into the checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted in the worktree is still listed as cached
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def _fresh_venv(folder: Path) -> Path:
    """A new virtualenv that borrows this environment's installed packages (TensorFlow, Qt)
    through a .pth line, so nothing is downloaded; the borrowed folder's own .pth files (this
    checkout's editable install) are not run, so `app` can only come from the wheel."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site.stdout.strip(), "borrowed-packages.pth").write_text("\n".join(sorted(shared)) + "\n")
    return python


def _installed_env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"),
            "XDG_DATA_HOME": str(tmp_path / "home" / "share"),
            "XDG_CONFIG_HOME": str(tmp_path / "home" / "config"), "QT_QPA_PLATFORM": "offscreen"}


def test_the_wheel_installed_in_a_fresh_venv_runs_the_demo_and_installs_the_desktop_entry(
        tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels),
                    str(_source_tree(tmp_path / "src"))], check=True, timeout=300)
    (wheel,) = wheels.glob("signet-*.whl")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("app/data/")}
    assert shipped == {str(p.relative_to(ROOT)) for p in DATA.rglob("*") if p.is_file()}

    python = _fresh_venv(tmp_path / "venv")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    site = Path(subprocess.run([str(python), "-c", "import app; print(app.__file__)"],
                               capture_output=True, text=True, check=True,
                               cwd=tmp_path).stdout.strip()).parent
    assert site == tmp_path / "venv" / "lib" / f"python{sys.version_info.major}."\
        f"{sys.version_info.minor}" / "site-packages" / "app"
    env = _installed_env(tmp_path)
    bin_dir = python.parent

    demo = subprocess.run([str(bin_dir / "signet"), "--demo"], capture_output=True, text=True,
                          cwd=tmp_path, env={**env, "SIGNET_EXIT_WHEN_SHOWN": "loaded"},
                          timeout=180)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"loaded {site / 'data' / 'demo' / 'skip_thoughts' / 'model.ckpt-200'} ops=" \
        in demo.stdout, demo.stdout + demo.stderr

    installed = subprocess.run([str(bin_dir / "signet"), "install-desktop"], capture_output=True,
                               text=True, cwd=tmp_path, env=env, timeout=120)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    share = tmp_path / "home" / "share"
    for relative, source in desktop.placements().items():
        data = (share / relative).read_bytes()
        if relative.suffix != ".desktop":
            assert data == source.read_bytes(), relative
    entry = _entry(share / "applications" / ENTRY.name)
    assert entry["Exec"] == f"{bin_dir / 'signet-gui'} %F"
    assert (bin_dir / "signet-gui").is_file()

    guide = subprocess.run([str(python), "-c", "from app.resources import readme_text; "
                            "print(readme_text())"], capture_output=True, text=True, check=True,
                           cwd=tmp_path, env=env).stdout
    assert "\n## User guide" in guide and "\n## Troubleshooting" in guide
