"""Hostile files and paths, round two (issue 27), held to the bad-input corpus's promise.

Either a correct answer, or exit status 2 with one line ``signet: …`` that names the
cause, no traceback, no version published, and the checkpoint's files byte-for-byte
what they were (`tests.test_bad_input_corpus`). Here: crafted ``.index`` headers,
damaged data shards, state files and assets that reach outside the checkpoint folder,
names TensorFlow reads as file patterns or cannot encode, versions TF Serving cannot
load, and an ``--overwrite`` killed halfway.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.core.errors import CheckpointError, error_line
from tests.export_stop import SET_ASIDE, cli_argv
from tests.test_bad_input_corpus import Case, assert_case_clean, assert_clean
from tests.test_crash_safety import ENV, ROOT, _export_args, _export_argv, _tree_digest
from tests.test_op_registry import with_custom_ops

INT64_MAX = 2**63 - 1


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _table_block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<II", 0, 1)  # one restart point, at 0


def bundle_index(num_shards: int) -> bytes:
    """A tensor-bundle ``.index`` (a LevelDB table) holding only a header that claims
    ``num_shards`` data shards: ~100 bytes."""
    from app.core.graph.protos import BundleHeaderProto

    header = BundleHeaderProto()
    header.num_shards = num_shards
    data = _table_block([(b"", header.SerializeToString())])
    out = data + b"\0" * 5  # block trailer: no compression, checksum unread
    meta_at, meta = len(out), _table_block([])
    out += meta + b"\0" * 5
    index_at, index = len(out), _table_block([(b"\xff", _varint(0) + _varint(len(data)))])
    out += index + b"\0" * 5
    footer = _varint(meta_at) + _varint(len(meta)) + _varint(index_at) + _varint(len(index))
    return out + footer.ljust(40, b"\0") + struct.pack("<Q", 0xDB4775248B80FB57)


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _rename_node(c: Case, old: str, new: str) -> list[str]:
    """The meta graph with node ``old`` renamed ``new`` (and every input naming it)."""
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef.FromString(c.meta.read_bytes())
    for node in meta.graph_def.node:
        if node.name == old:
            node.name = new
        node.input[:] = [new if i == old else i for i in node.input]
    c.meta.write_bytes(meta.SerializeToString())
    return ["export", str(c.prefix), "--out", str(c.base), "--name", "m", "--input", "x=x",
            "--output", f"y={new}", "--no-verify"]


def _loop(c: Case) -> list[str]:
    loop = c.tmp / "loop"
    loop.symlink_to(loop)
    return c.export(target=loop)


def _meta_folder(c: Case) -> list[str]:
    c.meta.unlink()
    c.meta.mkdir()
    return c.export()


def _non_utf8_base(c: Case) -> list[str]:
    base = c.tmp / os.fsdecode(b"served\xff")
    return ["export", str(c.prefix), "--out", str(base), "--name", "m", "--input", "x=x",
            "--output", "y=y", "--no-verify"]


def _empty_op_type(c: Case) -> list[str]:
    class _Built:
        directory = c.folder
        latest = c.prefix

    return c.export(target=with_custom_ops(_Built, c.tmp / "custom-src", {"y": ""}))


# name -> (prepare(case) -> argv, words the error line must contain)
CASES = {
    "index claiming 2^31-1 data shards": (
        lambda c: (c.index.write_bytes(bundle_index(2**31 - 1)), c.export())[1],
        ("data-00000-of-2147483647: missing (a data shard)",)),
    "data shard with a bad checksum": (
        lambda c: (_flip_a_byte(c.shard), c.export())[1],
        ("DataLossError", "Checksum does not match", "copy its files again")),
    "data shard truncated to 0 bytes": (
        lambda c: (c.shard.write_bytes(b""), c.export())[1], ("truncated (0 of 24 bytes)",)),
    ".meta that is a folder": (_meta_folder, (".meta: not a regular file (the meta graph)",)),
    ".meta that is a FIFO": (  # reading it would wait forever
        lambda c: (c.meta.unlink(), os.mkfifo(c.meta), c.export())[2],
        (".meta: not a regular file",)),
    ".index linked to /dev/zero": (  # reading it would never end
        lambda c: (c.index.unlink(), c.index.symlink_to("/dev/zero"), c.export())[2],
        (".index: not a regular file (the variable index)",)),
    "data shard linked to itself": (
        lambda c: (c.shard.unlink(), c.shard.symlink_to(c.shard.name), c.export())[2],
        ("missing (a data shard)",)),
    "state file naming itself": (
        lambda c: ((c.folder / "checkpoint").write_text('model_checkpoint_path: "checkpoint"\n'),
                   c.export(target=c.folder))[1], ("names checkpoint, which does not exist",)),
    "state file that is a FIFO": (  # reading it would wait forever
        lambda c: ((c.folder / "checkpoint").unlink(), os.mkfifo(c.folder / "checkpoint"),
                   c.export(target=c.folder))[2], ("checkpoint: not a checkpoint state file",)),
    "state file of 2 MiB": (
        lambda c: ((c.folder / "checkpoint").write_text("#" * (2 << 20)),
                   c.export(target=c.folder))[1], ("checkpoint: not a checkpoint state file",)),
    "state file naming a prefix with a NUL": (
        lambda c: ((c.folder / "checkpoint").write_text(
            'model_checkpoint_path: "gpu\\000.ckpt-5"\n'), c.export(target=c.folder))[1],
        ("names gpu\\x00.ckpt-5, which does not exist",)),
    "symlink loop as the checkpoint": (_loop, ("loop",)),
    "NUL in a node name": (lambda c: _rename_node(c, "y", "y\0tail"),
                           ("node name 'y\\x00tail' is not a TensorFlow name",)),
    "empty op type": (_empty_op_type, ("a node with an empty op type",)),
    "version beyond int64": (lambda c: c.export("--version", "99999999999999999999999"),
                             ("too large", str(INT64_MAX))),
    "model name with a backslash": (lambda c: c.export("--name", "a\\b"),
                                    ("model name 'a\\\\b'", "file pattern")),
    "model name with glob characters": (lambda c: c.export("--name", "m[1]*"),
                                        ("model name 'm[1]*'", "wildcards")),
    "non-UTF-8 export base": (_non_utf8_base, ("not a UTF-8 path",)),
    "export base that is a symlink loop": (
        lambda c: (c.base.symlink_to(c.base), c.export())[1],
        ("cannot write here", "Too many levels of symbolic links")),
    "model folder that is a file": (
        lambda c: (c.base.mkdir(), (c.base / "m").write_text("x"), c.export())[2],
        ("cannot write here",)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(name, gpu_pinned, tmp_path, capsys):
    prepare, expected = CASES[name]
    assert_case_clean(gpu_pinned, tmp_path, capsys, prepare, *expected)


def _capped(limit: int):
    """Run the child with at most ``limit`` bytes of address space."""
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_an_index_claiming_2_31_shards_costs_what_the_folder_holds(gpu_pinned, tmp_path):
    """A 100-byte .index claiming 2^31 - 1 shards: before naming every shard, `inspect`
    took gigabytes (3.2 GB after 20 s); now it lists the folder once and stops."""
    case = Case(gpu_pinned, tmp_path)
    case.index.write_bytes(bundle_index(2**31 - 1))
    assert case.index.stat().st_size < 1024
    done = subprocess.run([sys.executable, "-m", "app", "inspect", str(case.prefix)], cwd=ROOT,
                          env=ENV, capture_output=True, text=True, timeout=60,
                          preexec_fn=_capped(3 << 30))
    lines = [line for line in done.stderr.splitlines() if line.startswith("signet")]
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1 and "missing (a data shard)" in lines[0], done.stderr[-2000:]


def test_folders_beyond_int64_are_not_versions(gpu_pinned, tmp_path, capsys):
    case = Case(gpu_pinned, tmp_path)
    model = case.base / "m"
    for name in ("99999999999999999999999", str(INT64_MAX + 1), "3", "٣"):  # Arabic three
        (model / name).mkdir(parents=True)
    assert main(case.export()) == 0, capsys.readouterr().err
    assert "(version 4)" in capsys.readouterr().out
    assert (model / "4" / "saved_model.pb").is_file()


def test_overwrite_killed_after_the_old_version_is_set_aside_loses_nothing(
        gpu_pinned, tmp_path):
    """kill -9 right after `--overwrite` moved the old version into its staging folder:
    the next export puts it back before it does anything else."""
    base = tmp_path / "served"
    subprocess.run(_export_argv(gpu_pinned, base, "--no-verify"), cwd=ROOT, env=ENV,
                   check=True, capture_output=True)
    old = _tree_digest(base / "g" / "1")
    proc = subprocess.Popen(
        cli_argv(SET_ASIDE, *_export_args(gpu_pinned, base, "--version", "1", "--overwrite",
                                          "--no-verify")),
        cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)  # the old version is aside, the new one not in place
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (base / "g" / "1").exists()
    aside = [p for p in (base / "g").rglob("replaced-1") if p.is_dir()]
    assert len(aside) == 1 and _tree_digest(aside[0]) == old

    # Put back as the next export starts: its check of the target already sees it.
    refused = subprocess.run(_export_argv(gpu_pinned, base, "--version", "1", "--no-verify"),
                             cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "1 already exists; pick another version (the next free one is 2)" in refused.stderr
    assert sorted(p.name for p in (base / "g").iterdir()) == ["1"]
    assert _tree_digest(base / "g" / "1") == old
    done = subprocess.run(_export_argv(gpu_pinned, base, "--no-verify"), cwd=ROOT, env=ENV,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (base / "g").iterdir()) == ["1", "2"]
    assert _tree_digest(base / "g" / "1") == old


def _copy_as(built, folder: Path, name: str) -> Path:
    """The checkpoint's files under ``folder`` as ``name`` (a new prefix), no state file."""
    folder.mkdir(parents=True)
    for path in built.directory.glob(built.latest.name + ".*"):
        (folder / (name + path.name[len(built.latest.name):])).write_bytes(path.read_bytes())
    return folder / name


@pytest.mark.parametrize(("folder", "name", "base"), [
    ("ck [1]", "m[o]*?del.ckpt-10", "models [old]"),
    ("back\\slash", "mo\\del.ckpt-10", "served\\models"),
])
def test_glob_characters_and_backslashes_in_paths(gpu_pinned, tmp_path, capsys, folder,
                                                   name, base):
    """TensorFlow's restore looks the checkpoint up as a file pattern: inspect, a verified
    export and `run` on it all work, and the models.config base TF Serving could not
    read as it is gets a warning."""
    prefix = _copy_as(gpu_pinned, tmp_path / folder, name)
    assert main(["inspect", str(prefix.parent)]) == 0
    assert f"Checkpoint  {prefix}" in capsys.readouterr().out
    served = tmp_path / base
    code = main(["export", str(prefix.parent), "--out", str(served), "--name", "m",
                 "--input", "x=x", "--output", "y=y"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Verification: verified 1 signature(s)" in out
    assert f"warning: {served}: TensorFlow reads a model's variables through a file " \
           "pattern" in out
    request = tmp_path / "request.json"
    request.write_text('{"instances": [[1.0, 2.0, 3.0]]}')
    assert main(["run", str(served / "m"), "--request", str(request)]) == 0
    assert '"predictions"' in capsys.readouterr().out


def test_non_utf8_checkpoint_folder_exports(gpu_pinned, tmp_path, capsys):
    prefix = _copy_as(gpu_pinned, tmp_path / os.fsdecode(b"run\xff"), "m.ckpt-3")
    code = main(["export", str(prefix), "--out", str(tmp_path / "out"), "--name", "m",
                 "--input", "x=x", "--output", "y=y"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Verification: verified 1 signature(s)" in out
    # A strict stdout (PYTHONIOENCODING, most UTF-8 locales) prints the name's own bytes.
    done = subprocess.run([sys.executable, "-m", "app", "inspect", str(prefix)], cwd=ROOT,
                          env={**ENV, "PYTHONIOENCODING": "utf-8"}, capture_output=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert b"Checkpoint  " + os.fsencode(prefix) in done.stdout


def _state_file(folder: Path, named: str) -> None:
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "{named}"\n'
                                       f'all_model_checkpoint_paths: "{named}"\n')


def test_a_state_file_naming_another_folder_is_said(gpu_pinned, tmp_path, capsys):
    other = _copy_as(gpu_pinned, tmp_path / "other", "model.ckpt-10")
    here = tmp_path / "runs" / "a" / "b"
    here.mkdir(parents=True)
    for named in ("../../../other/model.ckpt-10", str(other)):
        _state_file(here, named)
        assert main(["inspect", str(here)]) == 0
        out, err = capsys.readouterr()
        warnings = [line for line in err.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and f"{here / 'checkpoint'}: names " in warnings[0], err
        assert "model.ckpt-10, outside this folder" in warnings[0]
    code = main(["export", str(here), "--out", str(tmp_path / "out"), "--name", "m",
                 "--input", "x=x", "--output", "y=y", "--no-verify"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "warning: " + str(here / "checkpoint") in out


def test_a_copied_folder_opens_its_own_files_not_the_originals(gpu_pinned, tmp_path, capsys):
    """The state file a copy carries names the folder it came from (an absolute path that
    still exists): the copy's own files are the ones opened, without a warning."""
    copy = tmp_path / "copy"
    _copy_as(gpu_pinned, copy, gpu_pinned.latest.name)
    _state_file(copy, str(gpu_pinned.latest))
    assert main(["inspect", str(copy)]) == 0
    out, err = capsys.readouterr()
    assert f"Checkpoint  {copy / gpu_pinned.latest.name}" in out
    assert "warning:" not in err


def test_an_asset_outside_the_checkpoint_is_named_and_never_printed(vocab_table, tmp_path,
                                                                     capsys):
    """The vocabulary the graph names lies outside the folder of the checkpoint given
    (a copy without it): a warning names it, and its words appear in no REST sample."""
    prefix = _copy_as(vocab_table, tmp_path / "ckpt", vocab_table.latest.name)
    code = main(["export", str(prefix), "--out", str(tmp_path / "out"), "--name", "words",
                 "--input", "tokens=tokens", "--output", "ids=token_ids"])
    out, err = capsys.readouterr()
    assert code == 0, err
    vocab = vocab_table.extra["vocab_file"]
    assert f"warning: asset {vocab} (used by " in out
    assert "is outside the checkpoint folder" in out
    rest = out[out.index("REST :predict body"):]
    assert not any(f'"{w}"' in rest for w in vocab_table.extra["words"]), rest


def test_debug_before_the_subcommand_shows_the_traceback(tmp_path, capsys):
    missing = str(tmp_path / "nowhere")
    assert main(["inspect", missing]) == 2
    assert "signet: " in capsys.readouterr().err
    for argv in (["--debug", "inspect", missing], ["inspect", missing, "--debug"]):
        with pytest.raises(CheckpointError):
            main(argv)


def test_full_disk_names_its_cause(gpu_pinned, tmp_path, capsys):
    """A real full file system (a 12 KiB tmpfs: the SavedModel does not fit)."""
    base = tmp_path / "tiny"
    base.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(base)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        code = main(["export", str(gpu_pinned.latest), "--out", str(base), "--name", "m",
                     "--input", "x=x", "--output", "y=y", "--no-verify"])
        out, err = capsys.readouterr()
        line = assert_clean(code, out, err, "cannot write the export",
                            "nothing was published")
        # TensorFlow's words when its writer hit the limit, Signet's when Python's did.
        assert os.strerror(errno.ENOSPC) in line or "the disk is full" in line, line
        assert not (base / "m").exists()  # the export made it, and took it away
    finally:
        subprocess.run(["umount", str(base)], check=True)


def test_several_root_errors_give_the_first_ones_cause():
    text = ("Graph execution error:\n\nDetected at node 'save/RestoreV2' defined at (most "
            "recent call last):\n  File \"x.py\", line 1\nNode: 'save/RestoreV2'\n"
            "2 root error(s) found.\n  (0) DATA_LOSS: Checksum does not match: stored 1\n"
            "\t [[{{node save/RestoreV2}}]]\n  (1) DATA_LOSS: Checksum does not match: "
            "stored 2\n0 successful operations.\n0 derived errors ignored.")
    assert error_line(text) == "Checksum does not match: stored 1"
    assert error_line("a\0b\nsecond") == "a\\x00b"


def test_a_savedmodels_own_assets_are_the_ones_exported(vocab_table, tmp_path, capsys):
    """Exporting a published version again copies its ``assets/`` file, not the training
    machine's path its graph still records (TF1's builder lists the assets in the
    ``saved_model_assets`` collection, not in ``asset_file_def``)."""
    args = ["--input", "tokens=tokens", "--output", "ids=token_ids", "--name", "words"]
    assert main(["export", str(vocab_table.latest), "--out", str(tmp_path / "a"), *args]) == 0
    capsys.readouterr()
    code = main(["export", str(tmp_path / "a" / "words" / "1"), "--out", str(tmp_path / "b"),
                 *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "outside the checkpoint folder" not in out
    assert (tmp_path / "b" / "words" / "1" / "assets" / "vocab.txt").is_file()
