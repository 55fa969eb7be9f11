"""Op types TensorFlow does not register are found and explained, on a real graph."""

from __future__ import annotations

import shutil

from app.core.graph.op_registry import providers, unregistered_message, unregistered_op_types
from app.core.loader import load_checkpoint
from app.core.tf_runtime import tensorflow


def with_custom_ops(built, tmp_path, types: dict[str, str]):
    """Copy a checkpoint and rename some op types in its meta graph, as a graph built
    with an extension package (whose kernels are not installed here) would have."""
    tensorflow()
    from tensorflow.core.protobuf import meta_graph_pb2

    target = tmp_path / "custom"
    shutil.copytree(built.directory, target)
    meta_path = target / (built.latest.name + ".meta")
    meta = meta_graph_pb2.MetaGraphDef.FromString(meta_path.read_bytes())
    op_defs = {op.name: op for op in meta.meta_info_def.stripped_op_list.op}
    for node in meta.graph_def.node:
        if node.name in types:
            # The Saver records the OpDef of every op type it saw, custom ones included.
            custom = meta.meta_info_def.stripped_op_list.op.add()
            custom.CopyFrom(op_defs[node.op])
            custom.name = types[node.name]
            node.op = types[node.name]
    meta_path.write_bytes(meta.SerializeToString())
    return target / built.latest.name


def test_real_graphs_have_no_unregistered_ops(skip_thoughts, cnn):
    assert unregistered_op_types(load_checkpoint(skip_thoughts.latest).graph) == []
    assert unregistered_op_types(load_checkpoint(cnn.latest).graph) == []


def test_custom_op_types_are_listed_with_their_package(gpu_pinned, tmp_path):
    prefix = with_custom_ops(gpu_pinned, tmp_path, {"y": "Addons>Gelu", "MatMul": "MyFancyOp"})
    loaded = load_checkpoint(prefix)  # showing the graph needs no kernels
    assert loaded.graph.ops["y"].type == "Addons>Gelu"
    missing = unregistered_op_types(loaded.graph)
    assert missing == ["Addons>Gelu", "MyFancyOp"]
    assert providers(missing) == ["tensorflow-addons"]
    message = unregistered_message(missing)
    assert message == ("uses op types this TensorFlow does not register: Addons>Gelu, MyFancyOp"
                       " — install tensorflow-addons in this environment")
    assert "tf.load_op_library" in unregistered_message(["MyFancyOp"])


def test_export_of_a_graph_with_custom_ops_is_one_line_and_publishes_nothing(
        gpu_pinned, tmp_path, capsys):
    from app.cli import main

    prefix = with_custom_ops(gpu_pinned, tmp_path, {"y": "Addons>Gelu"})
    base = tmp_path / "models"
    code = main(["export", str(prefix), "--out", str(base), "--name", "m",
                 "--input", "x=x", "--output", "y=y"])
    err = capsys.readouterr().err
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("signet:")]
    assert errors == [f"signet: {prefix}.meta: uses op types this TensorFlow does not register: "
                      "Addons>Gelu — install tensorflow-addons in this environment"]
    assert not (base / "m").exists() or not any((base / "m").iterdir())
