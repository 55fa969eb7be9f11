"""Project-wide rules: import direction, lazy TensorFlow, lint, README and CI agree."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".ci"))

from quickstart import quickstart_commands  # noqa: E402


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_qt_or_ui():
    offenders = []
    for path in (ROOT / "app" / "core").rglob("*.py"):
        for name in _imports(path):
            if name.startswith(("PySide6", "shiboken6", "app.ui", "app.commands")):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_describing_a_graph_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "import app.core.disk.checkpoint, app.core.graph.opgraph, app.core.graph.search\n"
        "import app.core.proposal.suggest\n"
        "import app.core.disk.variables, app.core.loader, app.cli\n"
        "print('tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the [test] extra)")
    result = subprocess.run([ruff, "check", "app", "tests", "bench", ".ci", "resources",
                             "packaging"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_quick_start_has_two_commands_and_ci_runs_the_second():
    commands = quickstart_commands(ROOT / "README.md")
    assert len(commands) == 2
    launch, test = commands
    assert "python3 -m venv .venv" in launch and "python3 -m venv .venv" in test
    assert "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert "quickstart.py test" in ci and 'eval "$cmd"' in ci
    printed = subprocess.run([sys.executable, str(ROOT / ".ci" / "quickstart.py"), "test"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert printed == test


UI = ROOT / "app" / "ui"
SHARED = "common"  # feature-free helpers any room may use; it imports no room
SHELL = "shell"  # the window: the one room that imports the features


def ui_import_offences(ui: Path = UI) -> list[str]:
    """Imports that break the rooms' direction in the ``app/ui`` folder ``ui``: a feature
    imports app.core, its own room and `common` only; `common` imports no room; only `shell`
    imports features. Each offence reads ``app/ui/ROOM/MODULE.py imports NAME``."""
    offences = []
    for path in sorted(ui.rglob("*.py")):
        parts = path.relative_to(ui).parts
        room = parts[0] if len(parts) > 1 else None  # None: app/ui/__init__.py
        for name in sorted(_imports(path)):
            words = name.split(".")
            if words[:2] != ["app", "ui"] or room in (SHELL, None):
                continue
            target = words[2] if len(words) > 2 else None  # None: `from app.ui import x`
            if target != room and (target != SHARED or room == SHARED):
                offences.append(f"app/ui/{'/'.join(parts)} imports {name}")
    return offences


def test_ui_rooms_import_core_their_own_room_and_common_only():
    assert ui_import_offences() == []
    rooms = {p.name for p in UI.iterdir() if (p / "__init__.py").is_file()}
    assert rooms == {"browse", "graph", "signature", "run", "export", "versions", SHELL,
                     SHARED}


def test_the_room_check_catches_each_forbidden_import(tmp_path):
    """A copy of app/ui with one forbidden import of each kind: the check names them all."""
    copy = tmp_path / "ui"
    shutil.copytree(UI, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "graph" / "reach.py").write_text("from app.ui.signature.editor import KEY\n")
    (copy / "common" / "reach.py").write_text("from app.ui.browse import icons\n")
    (copy / "run" / "reach.py").write_text("from app.ui import shell\n")
    (copy / "export" / "reach.py").write_text("import app.ui.shell.window\n")
    assert ui_import_offences(copy) == [
        "app/ui/common/reach.py imports app.ui.browse",
        "app/ui/export/reach.py imports app.ui.shell.window",
        "app/ui/graph/reach.py imports app.ui.signature.editor",
        "app/ui/run/reach.py imports app.ui",
    ]
