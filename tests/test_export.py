"""The export engine on real checkpoints: loadable, equal to the checkpoint, atomic."""

from __future__ import annotations

import errno
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import Cancelled, ExportError, SignatureError
from app.core.export import STAGES, export_model, next_version, publish
from app.core.loader import load_checkpoint
from app.core.signature.draft import Draft, Signature, Slot, slot_key_for
from app.core.tf_runtime import tensorflow
from tests.builders import checkpoint_outputs


def _draft(built, base: Path, name: str, **options) -> Draft:
    inputs, outputs = [], []
    for t in built.inputs:
        inputs.append(Slot(slot_key_for(t, [s.key for s in inputs]), t))
    for t in built.outputs:
        outputs.append(Slot(slot_key_for(t, [s.key for s in outputs]), t))
    draft = Draft([Signature(inputs=inputs, outputs=outputs)])
    draft.options.base, draft.options.name = str(base), name
    for key, value in options.items():
        setattr(draft.options, key, value)
    return draft


def _feeds(kind: str, built) -> dict[str, np.ndarray]:
    if kind in ("skip_thoughts", "foreign_state"):
        return {"encode_ids:0": np.array([[3, 1, 4, 1], [5, 9, 2, 6]], np.int64),
                "encode_mask:0": np.array([[1, 1, 1, 0], [1, 1, 1, 1]], np.int8)}
    if kind == "cnn":
        return {"images:0": np.random.default_rng(5).normal(size=(3, 8, 8, 1)).astype("f4")}
    if kind == "vocab_table":
        return {"tokens:0": np.array([b"cat", b"dog", b"the", b"mat"], object)}
    return {"x:0": np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]], np.float32)}



def _exported_files(model_folder: Path) -> list[str]:
    return sorted(p.name for p in model_folder.iterdir()) if model_folder.exists() else []


FIXTURES = ["skip_thoughts", "cnn", "vocab_table", "gpu_pinned", "foreign_state"]


@pytest.fixture(scope="module")
def exports(request, tmp_path_factory):
    """Each fixture checkpoint exported once (verified) for the tests below."""
    base = tmp_path_factory.mktemp("exports")
    results = {}
    for kind in FIXTURES:
        built = request.getfixturevalue(kind)
        # foreign_state: the folder, whose state file names another machine's paths
        source = built.directory if kind == "foreign_state" else built.latest
        results[kind] = (built, export_model(_draft(built, base, kind), source))
    return results


@pytest.mark.parametrize("kind", FIXTURES)
def test_export_loads_with_both_loaders_and_matches_the_checkpoint(exports, kind):
    tf = tensorflow()
    tf1 = tf.compat.v1
    built, result = exports[kind]
    assert result.path == Path(result.model_folder) / "1" and result.version == 1
    assert result.verification is not None and result.verification.max_difference <= 1e-5
    feeds = _feeds(kind, built)
    want = checkpoint_outputs(built.latest, feeds, built.outputs)
    sig = result.signature_defs["serving_default"]
    out_keys = {t: k for k, info in sig.outputs.items() for t in [info.name]}
    in_keys = {info.name: k for k, info in sig.inputs.items()}

    graph = tf.Graph()
    with tf1.Session(graph=graph) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(result.path))
        loaded_sig = meta.signature_def["serving_default"]
        got = sess.run([loaded_sig.outputs[out_keys[t]].name for t in built.outputs],
                       {loaded_sig.inputs[in_keys[n]].name: v for n, v in feeds.items()})
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    model = tf.saved_model.load(str(result.path))
    outputs = model.signatures["serving_default"](
        **{in_keys[n]: tf.constant(v) for n, v in feeds.items()})
    for t, b in zip(built.outputs, want, strict=True):
        np.testing.assert_allclose(outputs[out_keys[t]].numpy(), b, rtol=1e-5, atol=1e-6)


def test_gpu_pinned_graph_exports_without_devices(exports):
    _, result = exports["gpu_pinned"]
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((result.path / "saved_model.pb").read_bytes())
    devices = {n.device for n in saved.meta_graphs[0].graph_def.node}
    assert "" in devices and not any("GPU" in d for d in devices)  # saver ops stay on CPU


def test_summary_and_snippets(exports):
    _, result = exports["cnn"]
    summary = result.summary
    assert "signature_def['serving_default']:" in summary
    assert "    inputs['images'] tensor_info:\n        dtype: DT_FLOAT\n" \
           "        shape: (-1, 8, 8, 1)\n        name: images:0" in summary
    assert "Method name is: tensorflow/serving/predict" in summary
    assert f"base_path: '{result.model_folder}'" in result.models_config
    body = result.rest_body()
    assert body["signature_name"] == "serving_default"
    assert np.asarray(body["instances"]).shape == (1, 8, 8, 1)


def test_vocab_export_works_after_moving_it_and_deleting_the_checkpoint(vocab_table, tmp_path):
    source = tmp_path / "ckpt"
    shutil.copytree(vocab_table.directory, source)
    prefix = source / vocab_table.latest.name
    result = export_model(_draft(vocab_table, tmp_path / "out", "words"), prefix)
    assert (result.path / "assets" / "vocab.txt").is_file()
    moved = tmp_path / "elsewhere" / "words"
    shutil.move(str(result.model_folder), moved)
    shutil.rmtree(source)
    (vocab_table.directory / "vocab.txt").rename(vocab_table.directory / "vocab.moved")
    try:
        tf = tensorflow()
        model = tf.saved_model.load(str(moved / "1"))
        out = model.signatures["serving_default"](tokens=tf.constant(["mat", "cat", "zebra"]))
        assert out["token_ids"].numpy().tolist() == [5, 2, 0]
    finally:
        (vocab_table.directory / "vocab.moved").rename(vocab_table.directory / "vocab.txt")


def test_missing_vocabulary_is_found_next_to_the_checkpoint_or_named(vocab_table, tmp_path):
    source = tmp_path / "ckpt"
    source.mkdir()
    for file in vocab_table.directory.glob(vocab_table.latest.name + ".*"):
        shutil.copy2(file, source / file.name)
    prefix = source / vocab_table.latest.name
    original = vocab_table.directory / "vocab.txt"
    original.rename(original.with_suffix(".hidden"))
    try:
        with pytest.raises(ExportError, match=r"vocab.txt .*is missing; copy vocab.txt next to"):
            export_model(_draft(vocab_table, tmp_path / "out", "w"), prefix)
        assert not (tmp_path / "out" / "w").exists()
        shutil.copy2(original.with_suffix(".hidden"), source / "vocab.txt")
        result = export_model(_draft(vocab_table, tmp_path / "out", "w"), prefix)
        assert (result.path / "assets" / "vocab.txt").is_file()
    finally:
        original.with_suffix(".hidden").rename(original)


def test_the_default_export_keeps_only_served_variables(skip_thoughts, exports, tmp_path):
    tf = tensorflow()
    _, served = exports["skip_thoughts"]  # the default: serving-only
    full = export_model(_draft(skip_thoughts, tmp_path, "enc", strip_training=False),
                        skip_thoughts.latest)
    assert full.verification.max_difference <= 1e-5

    def names(result):
        return {n for n, _ in tf.train.list_variables(str(result.path / "variables" /
                                                           "variables"))}

    assert names(served) == {"word_embedding", "encoder/gru/gates/kernel",
                             "encoder/gru/gates/bias", "encoder/gru/candidate/kernel",
                             "encoder/gru/candidate/bias"}
    assert {"word_embedding/Adam", "global_step"} <= names(full)
    assert served.variables_bytes <= 0.4 * full.variables_bytes


def test_bound_placeholder_is_baked_in(cnn, tmp_path):
    tf = tensorflow()
    tf1 = tf.compat.v1
    draft = _draft(cnn, tmp_path, "cnn", strip_training=True)
    draft.rewrites["dropout"] = False  # the binding, not the rewrite, switches dropout off
    draft.bound["keep_prob"] = 1.0
    result = export_model(draft, cnn.latest)
    assert result.notes == []  # keep_prob no longer left at its default
    graph = tf.Graph()
    with tf1.Session(graph=graph) as sess:
        tf1.saved_model.loader.load(sess, ["serve"], str(result.path))
    keep = [op for op in graph.get_operations() if op.name == "keep_prob"]
    assert all(not op.outputs[0].consumers() for op in keep)
    assert any(op.name.startswith("signet_bound/") for op in graph.get_operations())


def test_binding_a_placeholder_the_dropout_rewrite_took_out_still_exports(cnn, tmp_path):
    draft = _draft(cnn, tmp_path, "cnn")
    draft.bound["keep_prob"] = 1.0  # its only reader, the dropout, is bypassed by default
    result = export_model(draft, cnn.latest)
    assert result.verification is not None and result.verification.max_difference <= 1e-5


def test_versions_count_up_and_overwrite_is_refused(gpu_pinned, tmp_path):
    draft = _draft(gpu_pinned, tmp_path, "g", verify=False)
    assert next_version(tmp_path, "g") == 1
    assert export_model(draft, gpu_pinned.latest).version == 1
    assert export_model(draft, gpu_pinned.latest).version == 2
    (tmp_path / "g" / "7").mkdir()
    assert export_model(draft, gpu_pinned.latest).version == 8
    marker = tmp_path / "g" / "2" / "saved_model.pb"
    before = marker.read_bytes()
    draft.options.version = 2
    with pytest.raises(ExportError, match="already exists; pick another version"):
        export_model(draft, gpu_pinned.latest)
    assert marker.read_bytes() == before
    draft.options.overwrite = True
    assert export_model(draft, gpu_pinned.latest).path == tmp_path / "g" / "2"
    assert _exported_files(tmp_path / "g") == ["1", "2", "7", "8"]


@pytest.mark.parametrize("stage", [name for name, _ in STAGES])
def test_cancel_at_each_stage_leaves_nothing(vocab_table, tmp_path, stage):
    names = [name for name, _ in STAGES]
    loaded = load_checkpoint(vocab_table.latest)
    draft = _draft(vocab_table, tmp_path, "v")
    export_model(draft, loaded)  # an existing version must stay untouched
    seen: list[float] = []
    start = dict(STAGES)[stage]

    def cancelled() -> bool:
        return bool(seen) and seen[-1] >= dict(STAGES)[names[names.index(stage) - 1]] \
            if stage != names[0] else True

    with pytest.raises(Cancelled):
        export_model(draft, loaded, progress=lambda f, m: seen.append(f), cancelled=cancelled)
    assert all(f < start for f in seen)
    assert _exported_files(tmp_path / "v") == ["1"]


def test_cancel_before_anything_leaves_no_model_folder(gpu_pinned, tmp_path):
    with pytest.raises(Cancelled):
        export_model(_draft(gpu_pinned, tmp_path, "g"), gpu_pinned.latest,
                     cancelled=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_removes_the_staging_folder(gpu_pinned, tmp_path, monkeypatch):
    def full(_root):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(publish, "fsync_tree", full)
    with pytest.raises(ExportError, match="the disk is full; nothing was published"):
        export_model(_draft(gpu_pinned, tmp_path, "g"), gpu_pinned.latest)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_file_system_is_not_called_permission_denied(gpu_pinned, tmp_path,
                                                                  monkeypatch):
    def read_only(_root):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(publish, "fsync_tree", read_only)
    with pytest.raises(ExportError) as caught:
        export_model(_draft(gpu_pinned, tmp_path, "g"), gpu_pinned.latest)
    assert str(caught.value) == ("cannot write the export: read-only file system; nothing "
                                 "was published")
    assert list(tmp_path.iterdir()) == []
    assert publish.io_words(PermissionError(errno.EACCES, "denied")) == "permission denied"


def test_target_problems_name_no_command_line_flag(tmp_path):
    """The window shows these words as they are: no --out, --name or --version in them."""
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "file").write_text("x")
    cases = [(tmp_path, "../m", 1), ("", "m", 1), (tmp_path, "m", 0), (tmp_path, "m", 1),
             (tmp_path / "file", "m", 1)]
    for base, name, version in cases:
        with pytest.raises(ExportError) as caught:
            publish.check_target(base, name, version, overwrite=False)
        assert "--" not in str(caught.value), str(caught.value)
    with pytest.raises(ExportError, match="the next free one is 2"):
        publish.check_target(tmp_path, "m", 1, overwrite=False)


def test_invalid_draft_is_refused_before_any_work(gpu_pinned, tmp_path):
    draft = _draft(gpu_pinned, tmp_path, "g")
    draft.signatures[0].outputs.append(Slot("z", "missing_op"))
    with pytest.raises(SignatureError, match="output 'z': no tensor missing_op:0"):
        export_model(draft, gpu_pinned.latest)
    assert list(tmp_path.iterdir()) == []
    draft = _draft(gpu_pinned, tmp_path, "../g")
    with pytest.raises(ExportError, match="plain folder name"):
        export_model(draft, gpu_pinned.latest)


def test_random_graph_is_refused_with_a_hint_it_can_follow(tmp_path):
    tf = tensorflow()
    tf1 = tf.compat.v1
    folder = tmp_path / "noisy"
    folder.mkdir()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        w = tf1.get_variable("w", [2, 2])
        tf.identity(tf.matmul(x, w) + tf.random.uniform([2]), name="y")
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            prefix = saver.save(sess, str(folder / "m.ckpt"), global_step=1)
    draft = Draft([Signature(inputs=[Slot("x", "x")], outputs=[Slot("y", "y")])])
    draft.options.base, draft.options.name = str(tmp_path / "out"), "noisy"
    # Nothing switches the noise off: refused before any work, verified or not, and the
    # fix names no placeholder the graph lacks.
    for verify in (True, False):
        draft.options.verify = verify
        with pytest.raises(SignatureError, match=r"output 'y': random_uniform/RandomUniform "
                                                 r"\(RandomUniform\) in 'random_uniform' draws "
                                                 r"new random numbers on every request, .* "
                                                 r"no inference rewrite removes it: .* "
                                                 r"rebuild the model with training=False"
                                                 ) as info:
            export_model(draft, prefix)
        assert "--bind" not in str(info.value)
    assert not (tmp_path / "out" / "noisy").exists()


def test_concurrent_exports_get_distinct_versions(gpu_pinned, tmp_path):
    loaded = load_checkpoint(gpu_pinned.latest)
    results, errors = [], []

    def run():
        try:
            results.append(export_model(_draft(gpu_pinned, tmp_path, "g", verify=False),
                                        loaded).version)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [1, 2, 3]
    assert _exported_files(tmp_path / "g") == ["1", "2", "3"]


def test_staging_folders_of_live_exports_survive_cleanup(tmp_path):
    live = publish.Staging(tmp_path, "m")
    dead = tmp_path / "m" / (publish.STAGING_PREFIX + "dead")
    dead.mkdir()
    removed = publish.clean_leftovers(tmp_path / "m")
    assert removed == [dead] and live.folder.exists()
    live.saved_dir.mkdir()
    (live.saved_dir / "saved_model.pb").write_bytes(b"x")
    path, version = live.publish(None, overwrite=False)
    assert version == 1 and (path / "saved_model.pb").exists() and not live.folder.exists()
