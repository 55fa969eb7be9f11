"""Project-wide rules: import direction, lazy TensorFlow, lint, README and CI agree."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
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


CORE = ROOT / "app" / "core"
# The small shared modules at the top of app/core: any room may import them; they import
# only each other.
CORE_SHARED = ("errors", "dtypes", "memory", "tf_runtime")
# app/core from the bottom up: each room (or the top `loader`) may import the shared
# modules, itself and the ones before it, never one after it.
CORE_LAYERS = ("graph", "signature", "disk", "serving", "rewrite", "proposal", "samples",
               "validation", "loader", "export", "watch")


def _core_module_names(core: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the ``app/core`` folder ``core``."""
    names = {}
    for path in core.rglob("*.py"):
        parts = ("app", "core", *path.relative_to(core).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _core_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """What ``path`` imports anywhere in it (in functions too), ``from pkg import module``
    read as the module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
            names |= subs or {node.module}
            if len(subs) < len(node.names):
                names.add(node.module)
    return names


def core_import_offences(core: Path = CORE) -> list[str]:
    """Imports that break the layering of the ``app/core`` folder ``core`` (`CORE_LAYERS`,
    `CORE_SHARED`), and rooms or top modules in no layer. Each offence reads
    ``app/core/ROOM/MODULE.py imports NAME`` or ``app/core/NAME is in no layer``."""
    rank = {name: i for i, name in enumerate(CORE_LAYERS)}
    modules = _core_module_names(core)
    offences = []
    for path in sorted(core.rglob("*.py")):
        parts = path.relative_to(core).parts
        unit = parts[0].removesuffix(".py")
        if unit == "__init__":
            continue
        if unit not in rank and unit not in CORE_SHARED:
            offences.append(f"app/core/{unit} is in no layer")
            continue
        for name in sorted(_core_imports(path, modules)):
            words = name.split(".")
            if words[:2] != ["app", "core"] or len(words) < 3 or words[2] == unit:
                continue
            target = words[2]
            allowed = (target in CORE_SHARED if unit in CORE_SHARED else
                       target in CORE_SHARED or rank.get(target, len(rank)) < rank[unit])
            if not allowed:
                offences.append(f"app/core/{'/'.join(parts)} imports {name}")
    return sorted(set(offences))


def core_import_cycles(core: Path = CORE) -> list[list[str]]:
    """Every import cycle between the modules of ``core`` (imports in functions count)."""
    modules = _core_module_names(core)
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        graph.add_edges_from((name, target) for target in _core_imports(path, modules)
                             if target in modules and target != name)
    return sorted(sorted(cycle) for cycle in nx.simple_cycles(graph))


def test_core_rooms_import_down_the_layers_only():
    assert core_import_offences() == []
    tops = {p.stem for p in CORE.glob("*.py")}
    assert tops == {"__init__", *CORE_SHARED, "loader"} and len(tops) <= 6
    rooms = {p.name for p in CORE.iterdir() if (p / "__init__.py").is_file()}
    assert rooms == set(CORE_LAYERS) - {"loader"}


def test_the_core_layer_check_catches_each_forbidden_import(tmp_path):
    """A copy of app/core with one forbidden import of each kind: the check names them all."""
    copy = tmp_path / "core"
    shutil.copytree(CORE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "graph" / "reach.py").write_text("from app.core.signature.draft import Draft\n")
    (copy / "rewrite" / "reach.py").write_text("def late():\n    from app.core import loader\n")
    (copy / "validation" / "reach.py").write_text("import app.core.export.engine\n")
    with (copy / "dtypes.py").open("a") as dtypes:
        dtypes.write("from app.core.graph import opgraph\n")
    (copy / "attic").mkdir()
    (copy / "attic" / "__init__.py").write_text("")
    assert core_import_offences(copy) == [
        "app/core/attic is in no layer",
        "app/core/dtypes.py imports app.core.graph.opgraph",
        "app/core/graph/reach.py imports app.core.signature.draft",
        "app/core/rewrite/reach.py imports app.core.loader",
        "app/core/validation/reach.py imports app.core.export.engine",
    ]


def test_core_has_no_import_cycle():
    assert core_import_cycles() == []


def test_the_cycle_check_catches_a_cycle_hidden_in_a_function(tmp_path):
    copy = tmp_path / "core"
    shutil.copytree(CORE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "graph" / "ring.py").write_text("def late():\n    from app.core.graph import ring2\n")
    (copy / "graph" / "ring2.py").write_text("from app.core.graph.ring import late\n")
    assert core_import_cycles(copy) == [["app.core.graph.ring", "app.core.graph.ring2"]]
