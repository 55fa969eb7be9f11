"""Broken and hostile inputs through the command line, each held to the same promise:

one clear line naming the file (or option) and the fix, exit status 2, no
traceback, no version published, and nothing lost (the checkpoint's files are
byte-for-byte what they were).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from app.cli import main
from app.core.export import publish
from tests.test_op_registry import with_custom_ops


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def _published(base: Path) -> list[Path]:
    return [p for p in base.rglob("*") if p.is_dir() and p.name.isdigit()]


class Case:
    """A scratch copy of a checkpoint and an export target, made per test."""

    def __init__(self, built, tmp_path: Path) -> None:
        self.folder = tmp_path / "ckpt"
        shutil.copytree(built.directory, self.folder)
        self.prefix = self.folder / built.latest.name
        self.meta = self.folder / (self.prefix.name + ".meta")
        self.index = self.folder / (self.prefix.name + ".index")
        self.shard = next(self.folder.glob("*.data-*"))
        self.base = tmp_path / "models"
        self.tmp = tmp_path

    def export(self, *extra: str, target: str | Path | None = None) -> list[str]:
        return ["export", str(target or self.prefix), "--out", str(self.base), "--name", "m",
                "--input", "x=x", "--output", "y=y", "--no-verify", *extra]

    def preset(self, text: str | bytes) -> str:
        path = self.tmp / "preset.json"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return str(path)


def _preset_json(**changes) -> str:
    data = {"format": "signet-preset", "version": 1,
            "signatures": [{"key": "serving_default", "method": "predict",
                            "inputs": [{"key": "x", "tensor": "x:0"}],
                            "outputs": [{"key": "y", "tensor": "y:0"}]}]}
    data.update(changes)
    return json.dumps(data)


def _corrupt_index(c: Case) -> list[str]:
    data = bytearray(c.index.read_bytes())
    data[-8:] = b"\x00" * 8
    c.index.write_bytes(bytes(data))
    return c.export()


# name -> (prepare(case) -> argv, what the error line must contain)
CASES = {
    "truncated .meta": (
        lambda c: (c.meta.write_bytes(c.meta.read_bytes()[:200]), c.export())[1],
        "corrupt or truncated meta graph"),
    "random-bytes .meta": (
        lambda c: (c.meta.write_bytes(os.urandom(3000)), c.export())[1], "meta graph"),
    "empty .meta": (lambda c: (c.meta.write_bytes(b""), c.export())[1], "empty meta graph"),
    "corrupt .index": (_corrupt_index, "corrupt index"),
    "missing .index": (lambda c: (c.index.unlink(), c.export())[1],
                       "missing (the variable index)"),
    "missing data shard": (lambda c: (c.shard.unlink(), c.export())[1],
                           "missing (a data shard)"),
    "truncated data shard": (
        lambda c: (c.shard.write_bytes(c.shard.read_bytes()[:5]), c.export())[1], "truncated"),
    "checkpoint file pointing nowhere": (
        lambda c: ((c.folder / "checkpoint").write_text('model_checkpoint_path: "/x/y-9"\n'),
                   c.export(target=c.folder))[1], "which does not exist here"),
    "not a checkpoint": (
        lambda c: ((c.tmp / "notes.txt").write_text("hi"),
                   c.export(target=c.tmp / "notes.txt"))[1], "not a checkpoint"),
    "empty folder": (lambda c: ((c.tmp / "empty").mkdir(), c.export(target=c.tmp / "empty"))[1],
                     "no checkpoint here"),
    "unregistered op type": (
        lambda c: c.export(target=with_custom_ops_in(c)), "does not register: Addons>Gelu"),
    "non-integer version": (lambda c: c.export("--version", "two"), "invalid int value"),
    "negative version": (lambda c: c.export("--version", "-3"), "positive integers"),
    "export base that is a file": (
        lambda c: (c.base.parent.mkdir(exist_ok=True), c.base.write_text("x"), c.export())[2],
        "is a file, not a folder"),
    "malformed preset": (lambda c: c.export("--preset", c.preset('{"format": ')), "preset"),
    "empty preset": (lambda c: c.export("--preset", c.preset("")), "empty"),
    "huge preset": (lambda c: c.export("--preset", c.preset(b" " * (2 << 20))), "too big"),
    "future-version preset": (
        lambda c: c.export("--preset", c.preset(_preset_json(version=99))), "newer"),
    "preset naming missing tensors": (
        lambda c: ["export", str(c.prefix), "--out", str(c.base), "--name", "m", "--preset",
                   c.preset(_preset_json(signatures=[{
                       "key": "serving_default", "method": "predict",
                       "inputs": [{"key": "x", "tensor": "x:0"}],
                       "outputs": [{"key": "p", "tensor": "probabilities:0"}]}]))],
        "no tensor probabilities:0"),
    "duplicate signature keys": (
        lambda c: c.export("--signature", "a", "--output", "y=y", "--signature", "a",
                           "--output", "y=y"), "two signatures share this key"),
    "invalid signature key": (lambda c: c.export("--signature", "bad key!", "--output", "y=y"),
                              "invalid signature key"),
    "unknown tensor": (lambda c: c.export("--output", "z=nope"), "no tensor nope:0"),
    "the same tensor fed twice": (lambda c: c.export("--input", "x2=x:0"),
                                  "already fed by input 'x'"),
    "unknown option value": (lambda c: c.export("--method", "predictt"), "invalid choice"),
}


def with_custom_ops_in(case: Case) -> Path:
    class _Built:  # the shape with_custom_ops expects
        directory = case.folder
        latest = case.prefix

    return with_custom_ops(_Built, case.tmp / "custom-src", {"y": "Addons>Gelu"})


def assert_clean(code: int, out: str, err: str, *expected: str) -> str:
    """Exit 2, one ``signet`` line holding every ``expected`` words, nothing on stdout, no
    traceback; the line."""
    errors = [line for line in err.splitlines() if line.startswith("signet")]
    assert code == 2, err
    assert len(errors) == 1, err
    for words in expected:
        assert words in errors[0], errors[0]
    assert "Traceback" not in err and out == ""
    return errors[0]


def assert_case_clean(built, tmp_path: Path, capsys, prepare, *expected: str) -> None:
    """Run the command ``prepare`` makes on a scratch `Case` of ``built``: clean, nothing
    published, the checkpoint's files untouched."""
    case = Case(built, tmp_path)
    argv = prepare(case)
    before = _digest(case.folder)
    code = main(argv)
    out, err = capsys.readouterr()
    assert_clean(code, out, err, *expected)
    if case.base.is_dir():
        assert _published(case.base) == []
    assert _digest(case.folder) == before


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, gpu_pinned, tmp_path, capsys):
    prepare, expected = CASES[name]
    assert_case_clean(gpu_pinned, tmp_path, capsys, prepare, expected)


def test_corpus_has_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_full_disk_during_the_variable_write(gpu_pinned, tmp_path, capsys, monkeypatch):
    case = Case(gpu_pinned, tmp_path)
    real = publish.fsync_tree

    def full(root):
        real(root)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(publish, "fsync_tree", full)
    code = main(case.export())
    err = capsys.readouterr().err
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("signet:")]
    assert len(errors) == 1 and "the disk is full; nothing was published" in errors[0], err
    # The staging folder is gone and no version appeared.
    model = case.base / "m"
    assert not model.exists() or list(model.iterdir()) == []


def test_unicode_and_spaces_in_every_path(gpu_pinned, tmp_path, capsys):
    from app.core.tf_runtime import tensorflow

    odd = tmp_path / "my runs ✓" / "模型 ünïcødé"
    shutil.copytree(gpu_pinned.directory, odd)
    base = tmp_path / "served models" / "dossier é"
    preset = tmp_path / "presets é" / "my preset ✓.json"
    preset.parent.mkdir()
    code = main(["export", str(odd), "--out", str(base), "--name", "modèle",
                 "--input", "x=x", "--output", "y=y", "--save-preset", str(preset)])
    out, err = capsys.readouterr()
    assert code == 0, err
    published = base / "modèle" / "1"
    assert str(published) in out
    loaded = tensorflow().saved_model.load(str(published))
    result = loaded.signatures["serving_default"](x=tensorflow().ones([2, 3]))
    assert result["y"].shape == (2, 2)
    code = main(["export", str(odd), "--out", str(base), "--name", "modèle", "--preset",
                 str(preset), "--no-verify"])
    assert code == 0 and (base / "modèle" / "2").is_dir()


def test_pyfunc_and_unknown_rank_are_warned_before_export(tmp_path, capsys):
    from app.core.loader import load_checkpoint
    from app.core.signature.draft import Draft, Level, Signature, Slot
    from app.core.tf_runtime import tensorflow
    from app.core.validation.draft import validate

    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, None, name="x")  # unknown rank
        w = tf1.get_variable("w", [], initializer=tf1.ones_initializer())
        doubled = tf1.py_func(lambda v: v * 2, [x * w], tf.float32, name="doubled")
        tf.identity(doubled, name="y")
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "pyfunc.ckpt"), global_step=1)
    loaded = load_checkpoint(prefix)
    draft = Draft([Signature(inputs=[Slot("x", "x:0")], outputs=[Slot("y", "y:0")])])
    warnings = [str(p) for p in validate(draft, loaded.graph) if p.level is Level.WARNING]
    assert any("Python function op(s) doubled" in w for w in warnings), warnings
    assert any("unknown rank" in w for w in warnings), warnings
    # The command line shows the warnings and still exports.
    code = main(["export", str(prefix), "--out", str(tmp_path / "out"), "--name", "p",
                 "--input", "x=x", "--output", "y=y", "--no-verify"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "unknown rank" in out + err
