"""Finding checkpoints from what users point at, and checking they are complete."""

from __future__ import annotations

import shutil

import pytest

from app.core.checkpoint import check_complete, list_checkpoints, resolve
from app.core.errors import CheckpointError


def test_folder_uses_state_file_and_lists_steps_newest_first(skip_thoughts):
    ckpt = resolve(skip_thoughts.directory)
    assert ckpt.prefix == skip_thoughts.latest
    assert ckpt.step == 6
    assert ckpt.steps == [6, 3]
    assert ckpt.at_step(3).prefix == skip_thoughts.prefixes[0]


@pytest.mark.parametrize("suffix", [".meta", ".index", ".data-00000-of-00001", ""])
def test_any_checkpoint_file_or_prefix_resolves_to_its_prefix(skip_thoughts, suffix):
    first = skip_thoughts.prefixes[0]
    ckpt = resolve(str(first) + suffix)
    assert ckpt.prefix == first
    assert ckpt.steps == [6, 3]


def test_foreign_absolute_paths_in_state_file_resolve_inside_the_folder(foreign_state):
    text = (foreign_state.directory / "checkpoint").read_text()
    assert "/home/someone/runs" in text
    ckpt = resolve(foreign_state.directory)
    assert ckpt.prefix == foreign_state.directory / foreign_state.latest.name
    assert ckpt.files().meta.exists()


def test_without_state_file_the_newest_meta_wins(skip_thoughts, tmp_path):
    for file in skip_thoughts.directory.iterdir():
        if file.name != "checkpoint":
            shutil.copy2(file, tmp_path / file.name)
    ckpt = resolve(tmp_path)
    assert ckpt.step == 6
    assert [p.name for p in list_checkpoints(tmp_path)] == ["model.ckpt-6", "model.ckpt-3"]


def test_complete_set_lists_every_file(cnn):
    files = check_complete(cnn.latest)
    assert files.meta.name.endswith(".meta") and files.index.name.endswith(".index")
    assert [p.name for p in files.data] == [cnn.latest.name + ".data-00000-of-00001"]
    assert files.bundle.num_shards == 1


def _copy(built, tmp_path):
    target = tmp_path / "ckpt"
    shutil.copytree(built.directory, target)
    return target / built.latest.name


@pytest.mark.parametrize(
    ("remove", "message"),
    [(".meta", "missing (the meta graph)"), (".index", "missing (the variable index)"),
     (".data-00000-of-00001", "missing (a data shard)")],
)
def test_missing_file_is_named(cnn, tmp_path, remove, message):
    prefix = _copy(cnn, tmp_path)
    missing = prefix.with_name(prefix.name + remove)
    missing.unlink()
    with pytest.raises(CheckpointError) as err:
        check_complete(prefix)
    assert str(err.value).startswith(str(missing))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_data_shard_is_named(cnn, tmp_path):
    prefix = _copy(cnn, tmp_path)
    shard = prefix.with_name(prefix.name + ".data-00000-of-00001")
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated"):
        check_complete(prefix)


def test_state_file_naming_nothing(tmp_path, cnn):
    for file in cnn.directory.iterdir():
        shutil.copy2(file, tmp_path / file.name)
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "gone.ckpt-9"\n')
    with pytest.raises(CheckpointError, match=r"gone\.ckpt-9, which does not exist"):
        resolve(tmp_path)


def test_empty_folder_and_non_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        resolve(tmp_path)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        resolve(other)
    with pytest.raises(CheckpointError, match="no such"):
        resolve(tmp_path / "missing" / "model.ckpt-1")
