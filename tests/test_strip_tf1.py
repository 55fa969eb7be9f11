"""--strip-training on TF1 control flow: v1 while loops and conds prune into a loadable graph."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import ExportError
from app.core.export import export_model, recipe
from app.core.graph.protos import to_tensorflow_meta_graph
from app.core.loader import load_checkpoint
from app.core.signature.draft import Draft, Signature, Slot
from app.core.tf_runtime import tensorflow
from tests.isolated_build import build

IDS = np.array([[1, 2, 3, 4, 5], [9, 0, 0, 0, 0], [3, 3, 7, 1, 2]], np.int64)


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoders")
    return {
        "scan": build("tests.graphs_tf1:scan_encoder", root / "scan")["prefix"],
        "dynamic_rnn": build("tests.graphs_tf1:dynamic_rnn_encoder", root / "rnn",
                             legacy_keras=True)["prefix"],
    }


_SIGNATURES = {
    "scan": ({"ids": "ids"}, {"ids": IDS}),
    "dynamic_rnn": ({"ids": "ids", "lengths": "lengths"},
                    {"ids": IDS, "lengths": np.array([5, 1, 3], np.int32)}),
}


def _draft(base, name: str, inputs: dict[str, str], strip: bool) -> Draft:
    draft = Draft([Signature(inputs=[Slot(k, t) for k, t in inputs.items()],
                             outputs=[Slot("vectors", "encoder/vectors")])])
    draft.options.base, draft.options.name = str(base), name
    draft.options.strip_training = strip
    return draft


def _load_and_run(path, feeds: dict[str, np.ndarray]) -> tuple[np.ndarray, set[str], tuple]:
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with tf1.Session(graph=graph) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(path))
        sig = meta.signature_def["serving_default"]
        value = sess.run(sig.outputs["vectors"].name,
                         {sig.inputs[k].name: v for k, v in feeds.items()})
        types = {op.type for op in graph.get_operations()}
        contexts = (graph.get_collection(tf1.GraphKeys.WHILE_CONTEXT),
                    graph.get_collection(tf1.GraphKeys.COND_CONTEXT))
    return value, types, contexts


@pytest.mark.parametrize("kind", ["scan", "dynamic_rnn"])
def test_strip_training_on_a_v1_loop_loads_and_equals_the_full_export(encoders, tmp_path,
                                                                       kind):
    prefix = encoders[kind]
    graph = load_checkpoint(prefix).graph
    assert {"Enter", "Exit", "Merge", "Switch", "StackPushV2"} <= {
        op.type for op in graph.ops.values()}  # v1 loops with gradient stacks
    inputs, feeds = _SIGNATURES[kind]
    full = export_model(_draft(tmp_path, kind, inputs, strip=False), prefix)
    stripped = export_model(_draft(tmp_path, kind, inputs, strip=True), prefix)
    assert stripped.verification is not None and stripped.verification.max_difference <= 1e-5

    want, full_types, _ = _load_and_run(full.path, feeds)
    got, types, contexts = _load_and_run(stripped.path, feeds)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert "Exit" in types and "StackPushV2" not in types and "ApplyAdam" not in types
    assert "ApplyAdam" in full_types
    loops, conds = contexts  # the records survived, naming only kept ops
    assert loops and (conds or kind != "scan")  # the scan encoder ends in a v1 tf.cond
    tf = tensorflow()
    names = {n for n, _ in tf.train.list_variables(str(stripped.path / "variables" /
                                                        "variables"))}
    assert not any("Adam" in n or "global_step" in n for n in names), names


def test_a_context_naming_a_pruned_op_is_reported_in_tensorflows_words(encoders):
    """What the old pruning produced: TF's message, no talk of missing libraries."""
    # As TensorFlow's class, the one the export hands import_graph (the loader reads
    # TensorBoard's copy).
    meta = to_tensorflow_meta_graph(load_checkpoint(encoders["scan"]).graph.meta_graph)
    broken = type(meta)()
    broken.CopyFrom(meta)
    exits = [n.name for n in broken.graph_def.node if n.op == "Exit"]
    kept = [n for n in broken.graph_def.node if n.name != exits[0]]
    del broken.graph_def.node[:]
    broken.graph_def.node.extend(kept)
    with pytest.raises(ExportError) as info:
        recipe.import_graph(broken, {})
    message = str(info.value)
    assert message.startswith("TensorFlow cannot import the graph: ")
    assert exits[0] in message and "library" not in message
    assert "every op type is registered" in message

    broken.graph_def.node.add(name="mystery", op="NoSuchOpAnywhere")
    with pytest.raises(ExportError, match="does not register: NoSuchOpAnywhere"):
        recipe.import_graph(broken, {})


@pytest.mark.parametrize("name", ["scan", "dynamic_rnn"])
def test_a_stripped_exports_reference_restores_only_what_the_outputs_read(encoders, name):
    """Verification's unpruned reference skips Adam's slots and the step counter, and
    still reads every weight the loop reads (v1 while: through Enter and back edges)."""
    loaded = load_checkpoint(encoders[name], index_names=False)
    graph, saver = recipe.import_graph(to_tensorflow_meta_graph(loaded.graph.meta_graph), {})
    inputs = [f"{t}:0" for t in _SIGNATURES[name][0].values()]
    reading = recipe.reading_saver(graph, saver, ["encoder/vectors:0"], inputs)
    restored = {v.op.name for v in reading._var_list}
    everything = {v.op.name for v in graph.get_collection("variables")}
    assert restored < everything
    assert not any("Adam" in v or "power" in v or "global_step" in v for v in restored)
    session = recipe.restore(graph, reading, encoders[name])
    try:
        feeds = {f"{k}:0": v for k, v in _SIGNATURES[name][1].items()}
        (got,) = session.run(["encoder/vectors:0"], feeds)
    finally:
        session.close()
    full_graph, full_saver = recipe.import_graph(
        to_tensorflow_meta_graph(loaded.graph.meta_graph), {})
    full = recipe.restore(full_graph, full_saver, encoders[name])
    try:
        (want,) = full.run(["encoder/vectors:0"], feeds)
    finally:
        full.close()
    np.testing.assert_array_equal(got, want)
