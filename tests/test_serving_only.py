"""Serving-only by default: a checkpoint whose Saver saved only the model (GPT-2
fine-tuning, facenet) exports as it is; keeping the training state it lacks, or a model
variable it lacks, stops the export before any TensorFlow work with one line naming it.

The checkpoints are TF1 programs trained with Adam (`tests.graphs_saver_subsets`),
built in child processes, with ref and with resource variables; and one whose Saver
restores a variable through a custom saveable object, built here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.core.errors import ExportError
from app.core.export import export_model
from app.core.export.restore_keys import saver_keys
from app.core.loader import load_checkpoint
from app.core.signature.draft import Draft, Signature, Slot
from app.core.signature.preset import save_preset
from app.core.tf_runtime import tensorflow
from tests.graphs_saver_subsets import IMAGES
from tests.isolated_build import build

# Adam's slots (two per trainable variable; the partitioned kernel's keyed by its whole
# name), its two power accumulators and the global step: what the model-only Saver left out.
TRAINING_ONLY = {"beta1_power", "beta2_power", "global_step"} | {
    f"{v}/{slot}" for v in ("dense/kernel", "bn/beta", "logits/kernel", "logits/bias")
    for slot in ("Adam", "Adam_1")}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("saver_subsets")
    ref = build("tests.graphs_saver_subsets:classifiers", root / "ref", variants={
        "model_only": {}, "lacking": {"leave_out": "logits/bias"}})
    resource = build("tests.graphs_saver_subsets:classifiers", root / "resource", v1=False,
                     variants={"model_only": {}, "renamed": {"saved": "renamed"}})
    return {"ref": ref["model_only"], "lacking": ref["lacking"],
            "resource": resource["model_only"], "renamed": resource["renamed"]}


def _draft(base: Path, name: str, **options) -> Draft:
    draft = Draft([Signature(inputs=[Slot("images", "images:0")],
                             outputs=[Slot("probabilities", "probabilities:0")])])
    draft.options.base, draft.options.name = str(base), name
    for key, value in options.items():
        setattr(draft.options, key, value)
    return draft


def _serve(path: Path) -> tuple[np.ndarray, set[str]]:
    """The probabilities the SavedModel at ``path`` answers for IMAGES, and its variables."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    with tf1.Session(graph=tf.Graph()) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(path))
        sig = meta.signature_def["serving_default"]
        value = sess.run(sig.outputs["probabilities"].name, {sig.inputs["images"].name: IMAGES})
    names = {n for n, _ in tf.train.list_variables(str(path / "variables" / "variables"))}
    return value, names


def _nothing_published(base: Path) -> bool:
    """No version and no staging folder anywhere under ``base``."""
    return not base.exists() or not any(base.rglob("*"))


@pytest.mark.parametrize("kind", ["ref", "resource"])
def test_the_default_export_of_a_model_only_checkpoint_serves_the_model(built, tmp_path, kind):
    result = export_model(_draft(tmp_path, "clf"), built[kind]["prefix"])
    assert result.verification is not None and result.verification.max_difference <= 1e-5
    served, names = _serve(result.path)
    np.testing.assert_allclose(served, built[kind]["probabilities"], rtol=1e-5, atol=1e-6)
    assert names == set(built[kind]["model"])  # the kernel's two partitions saved whole


@pytest.mark.parametrize("kind", ["ref", "resource"])
def test_keeping_training_state_the_checkpoint_lacks_is_one_line_naming_a_slot(built, tmp_path,
                                                                               kind):
    with pytest.raises(ExportError) as caught:
        export_model(_draft(tmp_path, "clf", strip_training=False), built[kind]["prefix"])
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{built[kind]['prefix']}: ")
    named = re.search(r"no value for (\d+) variable\(s\) kept for training, e\.g\. (\S+): ",
                      message)
    assert named is not None, message
    assert int(named.group(1)) == len(TRAINING_ONLY) and named.group(2) in TRAINING_ONLY
    assert "export serving-only" in message and "--keep-training-state" in message
    assert _nothing_published(tmp_path)


def test_a_model_variable_the_checkpoint_lacks_is_named_in_both_modes(built, tmp_path):
    prefix = built["lacking"]["prefix"]
    for strip in (True, False):
        with pytest.raises(ExportError) as caught:
            export_model(_draft(tmp_path, "clf", strip_training=strip), prefix)
        assert str(caught.value) == (
            f"{prefix}: the checkpoint has no value for logits/bias, which the signatures "
            "read: the Saver that wrote it left it out; export from a checkpoint that has it")
        assert _nothing_published(tmp_path)


def test_variables_saved_under_other_keys_export_in_both_modes(built, tmp_path):
    """A ``var_list`` dict saved every variable as ``net/<name>``: the serving-only import's
    new Saver restores them from those keys, not from their names."""
    renamed = built["renamed"]
    loaded = load_checkpoint(renamed["prefix"])
    keys = saver_keys(loaded.graph)
    assert keys["dense/kernel/part_1"] == "net/dense/kernel" and \
        keys["logits/bias/Adam"] == "net/logits/bias/Adam"
    assert "dense/kernel" not in loaded.files.bundle.entries
    for strip in (True, False):
        result = export_model(_draft(tmp_path, f"strip_{strip}", strip_training=strip), loaded)
        assert result.verification.max_difference <= 1e-5
        served, names = _serve(result.path)
        np.testing.assert_allclose(served, renamed["probabilities"], rtol=1e-5, atol=1e-6)
        assert set(renamed["model"]) <= names
        assert ("logits/bias/Adam" in names) is not strip


def _doubled_saver_checkpoint(folder: Path) -> tuple[str, np.ndarray]:
    """y = x @ w + b, whose Saver keeps ``b`` as usual and ``w`` as a custom saveable
    object: saved doubled under ``w_doubled``, restored halved (so its restore assigns w
    from a division, not from the RestoreV2 itself). Returns the prefix and y for x = ones."""
    from tensorflow.python.training.saving import saveable_object

    tf = tensorflow()
    tf1 = tf.compat.v1

    class Doubled(saveable_object.SaveableObject):
        def __init__(self, var):
            spec = saveable_object.SaveSpec(var.read_value() * 2.0, "", "w_doubled")
            super().__init__(var, [spec], "w_doubled")

        def restore(self, restored_tensors, restored_shapes):
            return tf1.assign(self.op, restored_tensors[0] / 2.0)

    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        w = tf1.get_variable("w", [2, 3])
        b = tf1.get_variable("b", [3])
        y = tf.add(tf.matmul(x, w), b, name="y")
        sess.run([w.initializer, b.initializer])
        saver = tf1.train.Saver({"w_doubled": Doubled(w), "b": b})
        prefix = saver.save(sess, str(folder / "m.ckpt"))
        return prefix, sess.run(y, {x: np.ones([1, 2], np.float32)})


def test_a_variable_its_saver_restores_in_another_way_is_never_called_missing(tmp_path):
    prefix, want = _doubled_saver_checkpoint(tmp_path)
    draft = Draft([Signature(inputs=[Slot("x", "x:0")], outputs=[Slot("y", "y:0")])])
    draft.options.base, draft.options.name = str(tmp_path / "out"), "m"
    draft.options.strip_training = False  # restored by the checkpoint's own Saver
    result = export_model(draft, prefix)
    assert result.verification.max_difference <= 1e-5
    model = tensorflow().saved_model.load(str(result.path))
    got = model.signatures["serving_default"](x=np.ones([1, 2], np.float32))["y"]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_a_preset_that_keeps_the_training_state_keeps_the_slots(built, tmp_path, capsys):
    prefix = built["renamed"]["prefix"]
    keep = tmp_path / "keep.json"
    save_preset(_draft(tmp_path / "unused", "clf", strip_training=False), keep)
    assert json.loads(keep.read_text())["export"]["strip_training"] is False
    older = json.loads(keep.read_text())
    del older["export"]["strip_training"]  # a preset that never said
    (tmp_path / "older.json").write_text(json.dumps(older))

    base = tmp_path / "models"
    for preset, extra, slots in ((keep, [], True), (tmp_path / "older.json", [], False),
                                 (keep, ["--strip-training"], False)):
        code = main(["export", str(prefix), "--preset", str(preset), "--out", str(base),
                     "--name", "clf", "--no-verify", "--no-warmup", *extra])
        out, err = capsys.readouterr()
        assert code == 0, err
        version = re.search(r"^Published (\S+) \(version", out, re.MULTILINE).group(1)
        _, names = _serve(Path(version))
        assert ("dense/kernel/Adam" in names) is slots, (preset.name, extra)


def test_the_command_line_exports_serving_only_and_refuses_in_one_line(built, tmp_path, capsys):
    prefix = built["ref"]["prefix"]
    argv = ["export", str(prefix), "--out", str(tmp_path), "--name", "clf",
            "--input", "images=images", "--output", "probabilities=probabilities",
            "--no-warmup"]
    assert main([*argv, "--keep-training-state"]) == 2
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("signet:")]
    assert out == "" and len(errors) == 1 and "kept for training, e.g. " in errors[0], err
    assert _nothing_published(tmp_path)
    code = main(argv)
    assert code == 0, capsys.readouterr().err
    assert "Published " in capsys.readouterr().out
    assert (tmp_path / "clf" / "1" / "saved_model.pb").is_file()

    body = tmp_path / "body.json"
    body.write_text(json.dumps({"instances": IMAGES.tolist()}))
    assert main(["run", str(prefix), "--request", str(body), "--input", "images=images",
                 "--output", "probabilities=probabilities"]) == 0  # exported serving-only
    answer = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(answer["predictions"], built["ref"]["probabilities"],
                               rtol=1e-5, atol=1e-6)
