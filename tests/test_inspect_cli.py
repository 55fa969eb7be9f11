"""`signet inspect`: summaries, JSON, search, and one clean line for every bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from app.cli import main
from app.core.tf_runtime import tensorflow


def _run(capsys, *args):
    code = main(["inspect", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_summary_matches_the_checkpoint(capsys, skip_thoughts):
    code, out, _ = _run(capsys, skip_thoughts.directory, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["checkpoint"] == str(skip_thoughts.latest)
    assert data["step"] == 6 and data["steps"] == [6, 3]
    from app.core.disk.metagraph import read_meta_graph

    proto = read_meta_graph(skip_thoughts.latest.with_name(skip_thoughts.latest.name + ".meta"))
    assert data["ops"] == len(proto.graph_def.node)
    assert set(data["placeholders"]) == {
        "encode_ids:0", "encode_mask:0", "decode_post_ids:0", "decode_post_mask:0"}
    assert data["suggested_inputs"][:2] == ["encode_ids:0", "encode_mask:0"]
    for name in skip_thoughts.outputs:
        assert name in data["suggested_outputs"][:5]
    variables = data["variables"]
    reader = tensorflow().train.load_checkpoint(str(skip_thoughts.latest))
    assert variables["count"] == len(reader.get_variable_to_shape_map())
    assert 0 < variables["training_bytes"] < variables["bytes"]


def test_readable_summary_search_and_ops(capsys, cnn):
    code, out, _ = _run(capsys, cnn.latest, "--search", "type:Softmax", "--ops")
    assert code == 0
    assert "Step        3" in out
    assert "Proposed signature" in out and "images:0" in out
    assert "Search 'type:Softmax': 1 ops\n  probabilities  (Softmax)" in out
    assert "probabilities:0 float32 [?, 3]" in out


def test_invalid_regex_is_a_clean_error(capsys, cnn):
    code, _, err = _run(capsys, cnn.latest, "--search", "(", "--regex")
    assert code == 2 and err.startswith("signet: --search '('") and err.count("\n") == 1


def _broken(cnn, tmp_path, name):
    target = tmp_path / name
    shutil.copytree(cnn.directory, target)
    prefix = target / cnn.latest.name
    return prefix, prefix.with_name(prefix.name + ".meta"), prefix.with_name(prefix.name + ".index")


BAD_INPUTS = {
    "empty folder": lambda cnn, tmp: (tmp / "empty", "no checkpoint here"),
    "not a checkpoint": lambda cnn, tmp: (tmp / "notes.txt", "not a checkpoint"),
    "truncated meta": lambda cnn, tmp: ("truncate-meta", "corrupt or truncated meta graph"),
    "random meta": lambda cnn, tmp: ("random-meta", "meta graph"),
    "empty meta": lambda cnn, tmp: ("empty-meta", "empty meta graph file"),
    "corrupt index": lambda cnn, tmp: ("corrupt-index", "corrupt index"),
    "missing index": lambda cnn, tmp: ("missing-index", "missing (the variable index)"),
    "missing shard": lambda cnn, tmp: ("missing-shard", "missing (a data shard)"),
    "state file naming nothing": lambda cnn, tmp: ("bad-state", "which does not exist here"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_one_line_and_status_2(capsys, cnn, tmp_path, case):
    what, expected = BAD_INPUTS[case](cnn, tmp_path)
    path = what
    if case == "empty folder":
        what.mkdir()
    elif case == "not a checkpoint":
        what.write_text("hello")
    else:
        prefix, meta, index = _broken(cnn, tmp_path, what)
        path = prefix
        if what == "truncate-meta":
            meta.write_bytes(meta.read_bytes()[: meta.stat().st_size // 3])
        elif what == "random-meta":
            meta.write_bytes(os.urandom(4096))
        elif what == "empty-meta":
            meta.write_bytes(b"")
        elif what == "corrupt-index":
            data = bytearray(index.read_bytes())
            data[-8:] = b"\x00" * 8
            index.write_bytes(bytes(data))
        elif what == "missing-index":
            index.unlink()
        elif what == "missing-shard":
            next(prefix.parent.glob("*.data-*")).unlink()
        elif what == "bad-state":
            (prefix.parent / "checkpoint").write_text('model_checkpoint_path: "nope-1"\n')
            path = prefix.parent
    code, out, err = _run(capsys, path)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("signet: ")
    assert expected in err
    assert "Traceback" not in err


def test_subprocess_exit_status_and_no_traceback(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    meta = tmp_path / "model.ckpt-1.meta"
    meta.write_bytes(b"\x00garbage")
    (tmp_path / "model.ckpt-1.index").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "app", "inspect", str(tmp_path)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("signet:")]
    assert lines == [f"signet: {tmp_path / 'model.ckpt-1.index'}: corrupt index (0 bytes, too "
                     "short) — the variable index is damaged; copy the .index file again from "
                     "the training machine"]
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not hasattr(os, "seteuid") or os.geteuid() != 0,
                    reason="needs root to act as an unprivileged user for a real EACCES")
def test_no_read_permission(capsys, cnn):
    # Root reads anything, so act as `nobody` for the call: a real EACCES.
    top = Path(tempfile.mkdtemp(prefix="signet-perm-"))
    try:
        os.chmod(top, 0o755)
        target = top / "locked"
        shutil.copytree(cnn.directory, target)
        os.chmod(target, 0o755)
        meta = target / (cnn.latest.name + ".meta")
        os.chmod(meta, 0)
        os.seteuid(65534)
        try:
            code, _, err = _run(capsys, meta)
        finally:
            os.seteuid(0)
        assert code == 2
        assert err == f"signet: {meta}: permission denied — make it readable (chmod u+r)\n"
    finally:
        shutil.rmtree(top)
