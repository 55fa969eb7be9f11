"""The proposal on small graphs built for one structural question each, and its JSON.

The corpora (`tests/test_programs.py`, `tests/test_heldout.py`) check whole programs;
these pin down single rules: the sigmoid cross entropy's logits, a graph with no loss,
a label chosen as an input, what ``signet inspect --json`` carries.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from app.cli import main
from app.core.loader import load_checkpoint
from app.core.proposal import propose
from app.core.signature.draft import Draft, Level, Signature, Slot
from app.core.validation.draft import validate
from tests.checkpoints import save_initialized


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def _dense(tf1, x, units: int, scope: str):
    with tf1.variable_scope(scope):
        w = tf1.get_variable("kernel", [x.shape[-1], units])
        b = tf1.get_variable("bias", [units], initializer=tf1.zeros_initializer())
        return tf1.nn.bias_add(tf1.matmul(x, w), b)


def _train_and_open(graph, directory, train, feeds):
    prefix = save_initialized(graph, directory / "model.ckpt", (train, feeds))
    return load_checkpoint(prefix)


def test_sigmoid_cross_entropy_reads_logits_and_no_sigmoid_head_is_made_up(tmp_path):
    """``sigmoid_cross_entropy_with_logits`` is plain arithmetic in the graph; its input
    is still the logits, and with no sigmoid in the graph no probabilities are served."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 4], name="x")
        y = tf1.placeholder(tf.float32, [None, 2], name="y")
        logits = _dense(tf1, tf.nn.relu(_dense(tf1, x, 5, "h")), 2, "out")
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        train = tf1.train.GradientDescentOptimizer(0.1).minimize(loss)
    loaded = _train_and_open(graph, tmp_path, train, {x: np.ones((2, 4)), y: np.ones((2, 2))})
    proposal = loaded.proposal
    assert {s.key: s.tensor for s in proposal.inputs} == {"x": "x:0"}
    assert {s.key: s.tensor for s in proposal.outputs} == {"logits": logits.name}
    assert proposal.labels == ("y:0",)


def test_a_graph_without_a_loss_serves_its_named_end(tmp_path):
    """An inference graph (no gradients, no loss collection): the deliberately named end
    the weights compute from the data is served; shape arithmetic is not."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3], name="signal")
        h = _dense(tf1, x, 4, "layer")
        tf.identity(tf.nn.tanh(h), name="scores")
        tf.shape(h, name="unused_shape")
    prefix = save_initialized(graph, tmp_path / "model.ckpt")
    proposal = load_checkpoint(prefix).proposal
    assert {s.key: s.tensor for s in proposal.outputs} == {"scores": "scores:0"}
    assert {s.key: s.tensor for s in proposal.inputs} == {"signal": "signal:0"}
    assert proposal.outputs[0].why.startswith("named 'scores' by the program")


def test_a_label_chosen_as_input_warns_in_plain_words(skip_thoughts):
    loaded = load_checkpoint(skip_thoughts.latest)
    graph = loaded.graph
    draft = Draft([Signature(inputs=[Slot("ids", "encode_ids:0"), Slot("mask", "encode_mask:0"),
                                     Slot("target", "decode_post_ids:0")],
                             outputs=[Slot("vectors", "encoder_out/thought_vectors:0")])])
    warnings = [p for p in validate(draft, graph) if p.slot == "target"]
    assert [(p.level, p.message) for p in warnings] == [(
        Level.WARNING, "decode_post_ids:0 is the label the loss compares with; serving "
        "clients don't have it")]
    assert not any(p.slot in ("ids", "mask") and p.level is not Level.INFO
                   for p in validate(draft, graph))


def test_teacher_forced_logits_are_left_out_when_the_encoder_serves_without_them(
        skip_thoughts):
    proposal = load_checkpoint(skip_thoughts.latest).proposal
    assert {s.key: s.tensor for s in proposal.inputs} == {
        "encode_ids": "encode_ids:0", "encode_mask": "encode_mask:0"}
    assert {s.key: s.tensor for s in proposal.outputs} == {
        "thought_vectors": "encoder_out/thought_vectors:0"}
    [note] = [n for n in proposal.notes if n.kind == "teacher_forcing"]
    assert "decode_post_ids:0" in note.text and "left out" in note.text
    left = {c.tensor: c.reason for c in proposal.other_outputs}
    assert left["decoder/logits:0"] == "needs the target sequence (teacher forcing)"


def test_inspect_json_carries_the_proposal_with_a_why_per_slot(skip_thoughts):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["inspect", str(skip_thoughts.latest), "--json"]) == 0
    proposal = json.loads(out.getvalue())["proposal"]
    assert proposal["signatures"] == {"serving_default": {
        "method": "predict",
        "inputs": {"encode_ids": "encode_ids:0", "encode_mask": "encode_mask:0"},
        "outputs": {"thought_vectors": "encoder_out/thought_vectors:0"}}}
    assert set(proposal["why"]["inputs"]) == {"encode_ids", "encode_mask"}
    assert set(proposal["why"]["outputs"]) == {"thought_vectors"}
    assert all(proposal["why"]["inputs"].values())
    assert proposal["bind"] == {} and proposal["why"]["bind"] == {}
    assert "decode_post_ids:0" in proposal["labels"]
    assert [n["kind"] for n in proposal["notes"]] == ["teacher_forcing"]


def test_the_proposal_is_worked_out_once_per_graph(skip_thoughts):
    graph = load_checkpoint(skip_thoughts.latest).graph
    assert propose(graph) is propose(graph)


@pytest.mark.parametrize("name", ["Placeholder", "Placeholder_3"])
def test_an_unnamed_placeholder_is_keyed_by_its_scope_or_its_role(tmp_path, name):
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        with tf1.name_scope("pixels"):
            for _ in range(int(name.rpartition("_")[2]) if "_" in name else 0):
                tf1.placeholder(tf.float32, [])  # take the lower numbers
            images = tf1.placeholder(tf.float32, [None, 4, 4, 1])
        ids = tf1.placeholder(tf.int32, [None, None])
        table = tf1.get_variable("table", [10, 4])
        flat = tf.reshape(images, [-1, 16])
        pooled = tf.reduce_mean(tf.nn.embedding_lookup(table, ids), 1)
        score = _dense(tf1, tf.concat([flat, pooled], 1), 1, "score")
        target = tf1.placeholder(tf.float32, [None, 1])
        loss = tf.reduce_mean(tf.square(score - target))
        train = tf1.train.GradientDescentOptimizer(0.1).minimize(loss)
    assert images.op.name.endswith(name) and ids.op.name == "Placeholder"
    loaded = _train_and_open(graph, tmp_path, train, {
        images: np.ones((2, 4, 4, 1)), ids: [[1, 2], [3, 4]], target: [[1.0], [0.0]]})
    keys = {s.key: s.tensor for s in loaded.proposal.inputs}
    assert keys == {"pixels": images.name, "input_ids": ids.name}
    assert {s.key for s in loaded.proposal.outputs} == {"predictions"}


def test_a_prediction_drawn_at_random_serves_the_mean_it_is_drawn_around(tmp_path):
    """A VAE decodes ``z = mu + sigma * eps`` with ``eps`` drawn at every run: the
    reconstruction answers differently each time, so the encoder's mean is served."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 6], name="pixels")
        h = tf.nn.elu(_dense(tf1, x, 8, "encoder"))
        mu = _dense(tf1, h, 2, "mean")
        sigma = tf.exp(_dense(tf1, h, 2, "log_sigma"))
        z = mu + sigma * tf1.random_normal(tf.shape(mu), 0.0, 1.0)
        recon = tf.sigmoid(_dense(tf1, z, 6, "decoder"))
        kl = 0.5 * tf.reduce_sum(tf.square(mu) + tf.square(sigma)
                                 - tf.math.log(1e-8 + tf.square(sigma)) - 1, 1)
        loss = tf.reduce_mean(tf.reduce_sum(tf.square(recon - x), 1) + kl)
        train = tf1.train.AdamOptimizer(0.01).minimize(loss)
    proposal = _train_and_open(graph, tmp_path, train, {x: np.ones((2, 6))}).proposal
    assert {s.key: s.tensor for s in proposal.outputs} == {"predictions": mu.name}
    assert {s.key: s.tensor for s in proposal.inputs} == {"pixels": "pixels:0"}
    [note] = [n for n in proposal.notes if n.kind == "sampling"]
    assert "random_normal/RandomStandardNormal" in note.text and mu.name in note.text
