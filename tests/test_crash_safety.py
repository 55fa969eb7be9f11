"""Crash safety: SIGKILL during an export, concurrent exports, atomic preset and settings files."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.core.errors import PresetError
from app.core.signature.draft import Draft, Signature, Slot
from app.core.signature.preset import load_preset, save_preset
from app.core.tf_runtime import tensorflow
from tests.export_stop import cli_argv

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _export_args(built, base: Path, *extra: str) -> list[str]:
    return ["export", str(built.latest), "--out", str(base), "--name", "g", "--input", "x=x",
            "--output", "y=y", *extra]


def _export_argv(built, base: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "app", *_export_args(built, base, *extra)]


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def published_once(gpu_pinned, tmp_path_factory):
    base = tmp_path_factory.mktemp("served")
    subprocess.run(_export_argv(gpu_pinned, base, "--no-verify"), cwd=ROOT, env=ENV, check=True,
                   capture_output=True)
    return base


@pytest.mark.parametrize("stage", ["restore", "write variables", "verify"])
def test_sigkill_at_a_stage_leaves_existing_versions_and_no_partial_one(
        gpu_pinned, published_once, tmp_path, stage):
    base = tmp_path / "served"
    subprocess.run(["cp", "-a", str(published_once), str(base)], check=True)
    before = _tree_digest(base / "g" / "1")
    proc = subprocess.Popen(cli_argv(stage, *_export_args(gpu_pinned, base)), cwd=ROOT,
                            env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)  # it reached the stage and stopped itself
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    versions = sorted(p.name for p in (base / "g").iterdir() if p.name.isdigit())
    assert versions == ["1"]
    assert _tree_digest(base / "g" / "1") == before

    done = subprocess.run(_export_argv(gpu_pinned, base, "--no-verify"), cwd=ROOT, env=ENV,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (base / "g").iterdir()) == ["1", "2"]  # leftovers cleaned
    assert _tree_digest(base / "g" / "1") == before


def test_two_exports_at_once_get_distinct_versions_and_both_load(gpu_pinned, tmp_path):
    procs = [subprocess.Popen(_export_argv(gpu_pinned, tmp_path), cwd=ROOT, env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    versions = sorted(p.name for p in (tmp_path / "g").iterdir())
    assert versions == ["1", "2"]
    tf = tensorflow()
    for version in versions:
        model = tf.saved_model.load(str(tmp_path / "g" / version))
        out = model.signatures["serving_default"](x=tf.ones([1, 3]))
        assert out["y"].shape == (1, 2)


def _draft(n: int) -> Draft:
    slots = [Slot(f"in_{i}", "x:0") for i in range(n)]
    return Draft([Signature(inputs=slots, outputs=[Slot("y", "y:0")])])


def test_a_failed_preset_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "p.json"
    save_preset(_draft(1), target)
    old = target.read_bytes()

    def crash(_fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(PresetError, match="cannot write the preset"):
        save_preset(_draft(300), target)
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]  # no temporary file left


WRITER = textwrap.dedent("""
    import sys
    {setup}
    i = 0
    while True:
        i += 1
        {write}
        if i == 3:
            print("ready", flush=True)
""")


def _kill_while_writing(setup: str, write: str, check, rounds: int = 8) -> None:
    """Start a process that rewrites one file in a loop; SIGKILL it at varying moments and
    check the file each time. A non-atomic writer leaves a torn file sooner or later."""
    code = WRITER.format(setup=setup, write=write)
    for round_ in range(rounds):
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=ENV,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.005 * round_)
        proc.kill()
        proc.wait()
        proc.stdout.close()
        check()


def test_killed_preset_writer_leaves_a_whole_preset(tmp_path):
    target = tmp_path / "preset.json"
    setup = ("from app.core.signature.preset import save_preset\n"
             "from tests.test_crash_safety import _draft\n"
             f"target = {str(target)!r}")
    write = "save_preset(_draft(1 if i % 2 else 400), target)"

    def check():
        draft = load_preset(target)
        assert len(draft.signatures[0].inputs) in (1, 400)

    _kill_while_writing(setup, write, check)


def test_killed_settings_writer_leaves_whole_settings(tmp_path):
    from PySide6.QtCore import QSettings

    path = tmp_path / "signet.ini"
    setup = ("from PySide6.QtCore import QSettings\n"
             f"s = QSettings({str(path)!r}, QSettings.Format.IniFormat)")
    write = ("s.setValue('recent', [f'/data/run{k}/model.ckpt-{i}' for k in range(300)]); "
             "s.setValue('round', i); s.sync()")

    def check():
        settings = QSettings(str(path), QSettings.Format.IniFormat)
        recent = settings.value("recent")
        assert settings.status() == QSettings.Status.NoError
        assert isinstance(recent, list) and len(recent) == 300
        round_ = int(settings.value("round"))
        assert recent[0] == f"/data/run0/model.ckpt-{round_}"

    _kill_while_writing(setup, write, check)
