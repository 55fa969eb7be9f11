"""The op-graph model against TensorFlow's own view of the same checkpoints."""

from __future__ import annotations

from app.core.disk.variables import Role
from app.core.loader import load_checkpoint
from app.core.tf_runtime import tensorflow


def _tf_graph(prefix):
    tf = tensorflow()
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(str(prefix) + ".meta", clear_devices=True)
    return graph


def test_op_count_and_function_bodies_match_the_protobuf(loaded):
    meta = loaded.graph.meta_graph
    assert len(loaded.graph.ops) == len(meta.graph_def.node)
    assert {f.signature.name: len(f.node_def) for f in meta.graph_def.library.function} == {
        name: len(body) for name, body in loaded.graph.functions.items()
    }
    # Function-body ops are not mixed into the main graph.
    for body in loaded.graph.functions.values():
        for op in body:
            assert op.function is not None
            assert loaded.graph.ops.get(op.name) is not op


def test_tensors_dtypes_and_shapes_match_tensorflow(loaded, skip_thoughts):
    graph = _tf_graph(skip_thoughts.latest)
    checked = 0
    for tf_op in graph.get_operations():
        op = loaded.graph.ops[tf_op.name]
        assert op.type == tf_op.type
        assert len(op.outputs) == len(tf_op.outputs)
        for ours, theirs in zip(op.outputs, tf_op.outputs, strict=True):
            assert ours.name == theirs.name
            assert ours.dtype == theirs.dtype.name
            if ours.shape is not None and theirs.shape.rank is not None:
                assert list(ours.shape) == theirs.shape.as_list()
            checked += 1
    assert checked > 500
    ids = loaded.graph.tensor("encode_ids:0")
    assert (ids.dtype, ids.shape) == ("int64", (None, None))
    assert loaded.graph.tensor("encode_ids") is ids
    assert loaded.graph.tensor("encoder/thought_vectors:0").shape == (None, 16)
    assert loaded.graph.tensor("encode_ids:1") is None


def test_inputs_consumers_and_digraph_agree(loaded):
    graph = loaded.graph
    matmul = next(op for op in graph.ops.values() if op.type == "MatMul")
    for src in matmul.input_ops:
        assert matmul.name in graph.ops[src].consumers
        assert graph.data_digraph.has_edge(src, matmul.name)
    assert graph.data_digraph.number_of_nodes() == len(graph.ops)
    with_control = [op for op in graph.ops.values() if op.control_inputs]
    assert with_control, "a training graph has control inputs"
    op = with_control[0]
    src = op.control_inputs[0]
    assert op.name in graph.ops[src].control_consumers
    assert graph.digraph.has_edge(src, op.name)


def test_scope_tree(loaded):
    root = loaded.graph.root
    assert root.op_count == len(loaded.graph.ops)
    encoder = loaded.graph.scope_node("encoder")
    assert encoder is not None and encoder.op is None
    thought = loaded.graph.scope_node("encoder/thought_vectors")
    assert thought.op is loaded.graph.ops["encoder/thought_vectors"]
    assert thought.parent is encoder
    assert encoder.children[thought.row] is thought
    assert encoder.op_count == sum(
        1 for name in loaded.graph.ops if name.startswith("encoder/")
    )
    assert set(loaded.graph.function_root.by_name) == set(loaded.graph.functions)


def test_variables_from_the_index_match_the_reader(loaded, skip_thoughts):
    tf = tensorflow()
    reader = tf.train.load_checkpoint(str(skip_thoughts.latest))
    shapes = reader.get_variable_to_shape_map()
    ours = loaded.variables.by_name()
    assert set(ours) == set(shapes)
    for name, shape in shapes.items():
        assert list(ours[name].shape) == shape
    emb = ours["word_embedding"]
    assert emb.role is Role.TRAINABLE and emb.nbytes == 40 * 8 * 4
    assert ours["word_embedding/Adam"].role is Role.TRAINING
    assert ours["word_embedding/Adam_1"].role is Role.TRAINING
    assert ours["beta1_power"].role is Role.TRAINING
    assert ours["global_step"].role is Role.TRAINING
    trainable = sum(v.nbytes for v in loaded.variables.variables if v.role is Role.TRAINABLE)
    # Adam keeps two slots per trainable variable.
    assert loaded.variables.training_bytes >= 2 * trainable


def test_gpu_pinned_devices_are_shown(gpu_pinned):
    loaded = load_checkpoint(gpu_pinned.latest)
    assert loaded.graph.ops["y"].device.endswith("GPU:0")


def test_attrs_are_readable(loaded):
    attrs = loaded.graph.ops["encode_ids"].attrs()
    assert attrs["dtype"] == "int64"
    assert attrs["shape"] == "[?, ?]"


def test_a_loaded_model_is_freed_by_reference_counting_alone(skip_thoughts):
    """No reference cycles: the GUI freezes models out of the cyclic collector's sight,
    so anything kept alive only by a cycle would never be freed."""
    import gc
    import weakref

    gc.collect()
    gc.disable()
    try:
        loaded = load_checkpoint(skip_thoughts.latest)
        graph = loaded.graph
        _ = (loaded.suggestions, loaded.search_index.search("encoder"), graph.digraph,
             graph.ops["encode_ids"].control_consumers, loaded.summary())
        tensor = graph.tensor("encoder/thought_vectors:0")
        refs = [weakref.ref(x) for x in (graph, tensor.op, graph.scope_node("encoder"),
                                         graph.function_root)]
        assert tensor.op.graph is graph and graph.scope_node("encoder").parent is graph.root
        del loaded, graph, tensor
        assert [r() for r in refs] == [None] * len(refs)
    finally:
        gc.enable()
