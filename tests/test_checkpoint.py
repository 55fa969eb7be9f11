"""Finding checkpoints from what users point at, and checking they are complete."""

from __future__ import annotations

import shutil

import pytest

from app.core.disk.checkpoint import check_complete, list_checkpoints, resolve
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


@pytest.fixture(scope="module")
def one_meta_per_run(tmp_path_factory):
    """facenet's layout: ``saver.save(..., write_meta_graph=False)`` at every step and the
    graph exported once as ``model-<run>.meta``, whose name ends in digits too."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    directory = tmp_path_factory.mktemp("facenet_layout")
    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        w = tf1.get_variable("w", [2, 2])
        tf.identity(tf.matmul(x, w), name="embeddings")
        sess.run(tf1.global_variables_initializer())
        saver = tf1.train.Saver(save_relative_paths=True)  # the copies below stay apart
        saver.export_meta_graph(str(directory / "model-20180402-114759.meta"))
        for step in (2, 5):
            saver.save(sess, str(directory / "model-20180402-114759.ckpt"), global_step=step,
                       write_meta_graph=False)
    return directory


@pytest.mark.parametrize("state_file", [True, False])
def test_a_run_with_one_shared_meta_graph_opens_its_newest_step(one_meta_per_run, tmp_path,
                                                                 state_file):
    from app.core.loader import load_checkpoint

    folder = tmp_path / "run"
    shutil.copytree(one_meta_per_run, folder)
    if not state_file:
        (folder / "checkpoint").unlink()
    shared = folder / "model-20180402-114759.meta"
    assert [p.name for p in list_checkpoints(folder)] == [
        "model-20180402-114759.ckpt-5", "model-20180402-114759.ckpt-2"]
    for path in (folder, shared, folder / "model-20180402-114759.ckpt-5.index"):
        ckpt = resolve(path)
        assert ckpt.prefix.name == "model-20180402-114759.ckpt-5" and ckpt.steps == [5, 2]
        assert ckpt.files().meta == shared
    assert resolve(folder / "model-20180402-114759.ckpt-2").files().meta == shared
    loaded = load_checkpoint(folder)
    assert loaded.files.meta == shared
    assert [s.tensor for s in loaded.proposal.outputs] == ["embeddings:0"]
