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
        "import app.core.checkpoint, app.core.opgraph, app.core.search, app.core.suggest\n"
        "import app.core.variables, app.core.loader, app.cli\n"
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
