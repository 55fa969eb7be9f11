"""The export draft model and its validation, on real checkpoint graphs."""

from __future__ import annotations

import pytest

from app.core.graph.opgraph import OpGraph
from app.core.loader import load_checkpoint
from app.core.signature.draft import (
    Draft,
    Level,
    Signature,
    Slot,
    drop_problem,
    has_errors,
    needed_ops,
    slot_key_for,
    tensor_name,
)
from app.core.tf_runtime import tensorflow
from app.core.validation.draft import draft_from_suggestions, unfed_placeholders, validate


@pytest.fixture(scope="module")
def skip(skip_thoughts):
    return load_checkpoint(skip_thoughts.latest)


@pytest.fixture(scope="module")
def cnn_loaded(cnn):
    return load_checkpoint(cnn.latest)


@pytest.fixture(scope="module")
def odd_graph():
    """A graph with a py_func, an unknown-rank placeholder, a string classifier and a NoOp."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, None, name="anything")
        tf1.py_func(lambda a: a * 2, [x], tf.float32, name="doubled")
        tf.identity(x * 3.0, name="tripled")
        examples = tf1.placeholder(tf.string, [None], name="examples")
        tf.identity(tf.strings.length(examples), name="lengths")
        tf.identity(tf.strings.join([examples, examples]), name="labels_text")
        tf.identity(tf.cast(tf.strings.length(examples), tf.float32), name="score")
        tf.no_op(name="noop")
        tf1.disable_control_flow_v2()  # a TF1-style loop with Enter/Exit frames
        try:
            tf1.while_loop(lambda i: i < 3, lambda i: tf.identity(i + 1, name="step"),
                           [tf.constant(0)], name="loop")
        finally:
            tf1.enable_control_flow_v2()
        meta = tf1.train.export_meta_graph(graph=graph)
    return OpGraph(meta)


def _draft(inputs, outputs, key="serving_default", method="predict", bound=None):
    sig = Signature(key, method, [Slot(k, t) for k, t in inputs],
                    [Slot(k, t) for k, t in outputs])
    return Draft([sig], dict(bound or {}))


def _messages(problems, level=Level.ERROR):
    return [str(p) for p in problems if p.level is level]


def test_suggested_draft_is_valid_and_needs_exactly_the_encoder_inputs(skip):
    draft = draft_from_suggestions(skip)
    sig = draft.signatures[0]
    assert sig.key == "serving_default" and sig.method == "predict"
    assert [s.tensor for s in sig.inputs] == ["encode_ids:0", "encode_mask:0"]
    assert [s.key for s in sig.inputs] == ["encode_ids", "encode_mask"]
    assert sig.outputs[0].tensor == "encoder_out/thought_vectors:0"
    assert sig.inputs[0].dtype == "int64" and sig.inputs[0].shape == "[?, ?]"
    assert not has_errors(validate(draft, skip.graph))


def test_copy_is_independent(skip):
    draft = draft_from_suggestions(skip)
    clone = draft.copy()
    clone.signatures[0].inputs.pop()
    clone.bound["x:0"] = 1
    assert len(draft.signatures[0].inputs) == 2 and draft.bound == {}


def test_unknown_tensor_is_kept_and_marked(skip):
    draft = _draft([("ids", "encode_ids"), ("mask", "encode_mask")],
                   [("vec", "encoder/thought_vectors"), ("gone", "nowhere/out:0")])
    problems = validate(draft, skip.graph)
    errors = [p for p in problems if p.level is Level.ERROR]
    assert len(errors) == 1
    assert errors[0].side == "outputs" and errors[0].slot == "gone" and errors[0].slot_index == 1
    assert "no tensor nowhere/out:0" in errors[0].message
    assert len(draft.signatures[0].outputs) == 2


def test_changed_dtype_and_shape_are_errors_naming_both(skip):
    draft = _draft([("ids", "encode_ids"), ("mask", "encode_mask")],
                   [("vec", "encoder/thought_vectors")])
    draft.signatures[0].inputs[0].dtype = "int32"
    draft.signatures[0].outputs[0].shape = "[?, 32]"
    errors = _messages(validate(draft, skip.graph))
    assert any("changed dtype: the preset recorded int32, the graph has int64" in e
               for e in errors)
    assert any("changed shape: the preset recorded [?, 32], the graph has [?, 16]" in e
               for e in errors)


def test_bad_keys_duplicates_and_double_feeding(skip):
    draft = _draft([("ids", "encode_ids"), ("ids", "encode_mask"), ("2x", "encode_ids:0")],
                   [("vec", "encoder/thought_vectors"), ("bad-key", "encoder/thought_vectors")])
    draft.signatures.append(Signature("serving_default", "predict", [],
                                      [Slot("v", "encoder_out/thought_vectors")]))
    draft.signatures.append(Signature("__reserved", "guess", [], []))
    errors = _messages(validate(draft, skip.graph))
    assert sum("two inputs share this key" in e for e in errors) == 2
    assert any("input '2x': invalid key" in e for e in errors)
    assert any("output 'bad-key': invalid key" in e for e in errors)
    assert any("encode_ids:0 is already fed by input 'ids'" in e for e in errors)
    assert sum("two signatures share this key" in e for e in errors) == 2
    assert any("'__reserved': invalid signature key" in e for e in errors)
    assert any("unknown method 'guess'" in e for e in errors)
    assert any("'__reserved': has no outputs" in e for e in errors)


def test_unfed_placeholders_listed_and_defaults_reported(cnn_loaded, skip):
    graph = skip.graph
    draft = _draft([("ids", "encode_ids")], [("vec", "encoder_out/thought_vectors")])
    assert unfed_placeholders(draft, draft.signatures[0], graph) == ["encode_mask:0"]
    errors = _messages(validate(draft, graph))
    assert errors == ["signature 'serving_default': the outputs need placeholder(s) no input "
                      "feeds: encode_mask:0 (add them as inputs or bind them to a constant)"]

    cnn_draft = _draft([("images", "images")], [("probs", "probabilities")])
    assert _messages(validate(cnn_draft, cnn_loaded.graph), Level.INFO) == []  # rewritten
    cnn_draft.rewrites["training_switch"] = False  # keep_prob left at its default
    problems = validate(cnn_draft, cnn_loaded.graph)
    assert not has_errors(problems)
    assert any("keep_prob:0" in m for m in _messages(problems, Level.INFO))
    assert unfed_placeholders(cnn_draft, cnn_draft.signatures[0], cnn_loaded.graph,
                              with_default=True) == ["keep_prob:0"]
    cnn_draft.bound["keep_prob"] = 1.0
    assert _messages(validate(cnn_draft, cnn_loaded.graph), Level.INFO) == []


def test_bindings_are_checked(cnn_loaded):
    graph = cnn_loaded.graph
    for bound, expected in [
        ({"keep_prob": "high"}, "not a float32 value"),
        ({"keep_prob": [1.0, 2.0]}, "does not fit the placeholder's []"),
        ({"nothing": 1}, "no tensor nothing:0"),
        ({"dense/logits": 1}, "does not fit the placeholder's [?, 3]"),
        ({"conv1/kernel": 1.0}, "resource tensor"),
        ({"images": 0.0}, "does not fit"),
    ]:
        draft = _draft([("images", "images")], [("probs", "probabilities")], bound=bound)
        errors = _messages(validate(draft, graph))
        assert any(expected in e for e in errors), (bound, errors)
    draft = _draft([("images", "images")], [("probs", "probabilities")],
                   bound={"images": [[[[0.0]] * 8] * 8]})
    assert any("also a signature input" in e for e in _messages(validate(draft, graph)))


def test_unfeedable_inputs_and_no_output_ops(skip, cnn_loaded, odd_graph):
    assert "while loop" in drop_problem(odd_graph, "loop/step", "inputs")
    assert drop_problem(odd_graph, "loop/step", "outputs") is None
    exit_op = next(n for n, op in odd_graph.ops.items() if op.type == "Exit")
    assert drop_problem(odd_graph, exit_op, "inputs") is None
    graph = skip.graph
    assert "resource tensor" in drop_problem(graph, "word_embedding", "inputs")
    assert "no outputs" in drop_problem(cnn_loaded.graph, "Adam", "outputs")
    assert "only 1 output" in drop_problem(graph, "encode_ids:3", "inputs")
    draft = _draft([("ids", "encode_ids"), ("mask", "encode_mask"), ("w", "word_embedding")],
                   [("vec", "encoder_out/thought_vectors"), ("init", "init")])
    errors = _messages(validate(draft, graph))
    assert any("input 'w': word_embedding:0 is a resource tensor" in e for e in errors)
    assert any("output 'init': init is an op with no outputs" in e for e in errors)


def test_pyfunc_unknown_rank_and_classify_rules(odd_graph):
    draft = _draft([("x", "anything")], [("y", "doubled")])
    warnings = _messages(validate(draft, odd_graph), Level.WARNING)
    assert any("Python function op(s) doubled" in w for w in warnings)
    assert any("input 'x': anything:0 has an unknown rank" in w for w in warnings)
    assert not has_errors(validate(draft, odd_graph))

    good = _draft([("inputs", "examples")], [("classes", "labels_text"), ("scores", "score")],
                  key="classify_it", method="classify")
    assert not has_errors(validate(good, odd_graph))
    bad = _draft([("examples", "examples")], [("classes", "lengths"), ("extra", "score")],
                 method="classify")
    errors = _messages(validate(bad, odd_graph))
    assert any("exactly one input keyed 'inputs'" in e for e in errors)
    assert any("outputs must be keyed 'classes' and/or 'scores'" in e for e in errors)
    assert any("needs 'classes' to be string, not int32" in e for e in errors)
    regress = _draft([("inputs", "examples")], [("outputs", "score")], method="regress")
    assert not has_errors(validate(regress, odd_graph))
    regress.signatures[0].outputs[0].key = "value"
    assert any("'outputs'" in e for e in _messages(validate(regress, odd_graph)))


def test_needed_ops_stop_at_fed_tensors(skip):
    graph = skip.graph
    full = needed_ops(graph, ["encoder_out/thought_vectors:0"], [])
    cut = needed_ops(graph, ["encoder_out/thought_vectors:0"], ["encoder/thought_vectors:0"])
    assert "encode_ids" in full and "encode_ids" not in cut
    assert "encoder_out/thought_vectors" in cut
    # (while_v2 wires gradient accumulators into the forward While op, so gradients/ may appear)
    assert not any(n.startswith(("Adam", "decoder/", "loss/")) for n in full)


@pytest.mark.parametrize(("tensor", "existing", "expected"), [
    ("encode_ids:0", [], "encode_ids"),
    ("encode_ids", ["encode_ids"], "encode_ids_2"),
    ("encoder/thought_vectors:0", [], "thought_vectors"),
    ("encoder/thought_vectors:0", ["thought_vectors"], "encoder_thought_vectors"),
    ("a/b/c/out:0", ["out", "c_out"], "a_b_c_out"),
    ("a/b/c/out:0", ["out", "c_out", "a_b_c_out"], "out_2"),
    ("split:1", [], "split_1"),
    ("9lives/x-y:0", ["x_y"], "t_9lives_x_y"),
])
def test_slot_key_for(tensor, existing, expected):
    assert slot_key_for(tensor, existing) == expected


@pytest.mark.parametrize(("tensor", "op_type", "expected"), [
    ("encoder/Identity:0", "Identity", "encoder"),
    ("a/b/Identity_3:0", "Identity", "b"),
    ("model/dense/add:0", "AddV2", "dense"),
    ("encoder/thought_vectors:0", "Identity", "thought_vectors"),
    ("Identity:0", "Identity", "Identity"),  # no scope to take the name from
])
def test_slot_key_for_an_op_with_a_default_name_uses_its_scope(tensor, op_type, expected):
    assert slot_key_for(tensor, [], op_type) == expected


def test_tensor_name():
    assert tensor_name(" a/b ") == "a/b:0"
    assert tensor_name("a:2") == "a:2"
    assert tensor_name("scope:x") == "scope:x:0"
