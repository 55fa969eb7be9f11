"""Suggestions read from the structure of real training checkpoints of varied style.

Every true input must be suggested above every label, a true output must be in the
top 3, and nothing the issue saw go wrong (a bare ``Mean`` loss, batch-norm updates,
initializers, clipping, a softmax under a ``loss`` scope, labels only the loss reads,
pipeline-fed graphs) may come back.
"""

from __future__ import annotations

import pytest

from app.commands.inspect import format_summary
from app.core.disk.variables import Role
from app.core.graph.machinery import is_machinery
from app.core.loader import load_checkpoint
from app.core.proposal.reading import forward_from, read_program
from app.core.validation.draft import draft_from_suggestions
from tests import suggest_corpus
from tests.isolated_build import build

TF1_PLAIN = ["tf1_bare_mean_clipped", "tf1_softmax_under_loss_scope", "tf1_queue_parse_example",
             "tf1_while_encoder"]
# tf.compat.v1.layers and Keras need tf-keras under TF_USE_LEGACY_KERAS=1.
TF1_KERAS = ["tf1_dataset_layers_bn", "tf1_keras_fit", "tf1_keras_fit+resnet"]
TF2 = ["tf2_seq2seq", "tf2_dataset_functional_while", "tf2_misleading_names",
       "tf2_autoencoder"]
PIPELINE_FED = {"tf1_dataset_layers_bn", "tf1_queue_parse_example",
                "tf2_dataset_functional_while"}
_MACHINERY_WORDS = ("Initializer", "AssignMovingAvg", "clip_by", "gradients", "save/",
                    "Adam", "Momentum", "RMSProp", "Adagrad", "metrics/acc/update",
                    "accuracy/update", "IteratorV2", "summary")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("suggest_corpus")
    facts = build("tests.suggest_corpus:tf1_corpus", root / "tf1", names=TF1_PLAIN)
    facts |= build("tests.suggest_corpus:tf1_corpus", root / "keras", legacy_keras=True,
                   names=TF1_KERAS)
    for name in TF2:  # TF2 behaviour: built in this process
        directory = root / "tf2" / name
        directory.mkdir(parents=True)
        facts[name] = getattr(suggest_corpus, name)(directory)
    return facts


@pytest.fixture(scope="module")
def opened(corpus):
    return {name: load_checkpoint(facts["prefix"]) for name, facts in corpus.items()}


CASES = TF1_PLAIN + TF1_KERAS + TF2


@pytest.mark.parametrize("case", CASES)
def test_every_true_input_is_suggested_above_the_labels(case, corpus, opened):
    facts, sugg = corpus[case], opened[case].suggestions
    ranked = [s.tensor for s in sugg.inputs]
    for tensor in facts["inputs"]:
        assert tensor in ranked, (case, ranked)
        mine = sugg.inputs[ranked.index(tensor)]
        assert not mine.label and not mine.optional
        assert mine.kind == ("pipeline" if case in PIPELINE_FED else "placeholder")
    for label in facts["labels"]:
        if label in ranked:
            assert sugg.inputs[ranked.index(label)].label
            assert ranked.index(label) > max(ranked.index(t) for t in facts["inputs"])


@pytest.mark.parametrize("case", CASES)
def test_a_true_output_is_in_the_top_three(case, corpus, opened):
    facts, sugg = corpus[case], opened[case].suggestions
    top3 = [s.tensor for s in sugg.outputs[:3]]
    assert set(facts["outputs"]) & set(top3), (case, top3)


@pytest.mark.parametrize("case", CASES)
def test_no_machinery_loss_or_label_tensor_is_suggested(case, corpus, opened):
    facts, loaded = corpus[case], opened[case]
    outputs = [s.tensor for s in loaded.suggestions.outputs]
    assert facts.get("loss") not in outputs
    for tensor in outputs:
        assert not any(word in tensor for word in _MACHINERY_WORDS), (case, tensor)
    reading = read_program(loaded.graph)
    ops = loaded.graph.ops
    readers = [c for t in reading.labels for c in ops[t.rsplit(":", 1)[0]].consumers
               if t in ops[c].inputs]
    from_labels = forward_from(ops, readers, reading.machinery)
    for tensor in outputs:
        assert tensor.rsplit(":", 1)[0] not in from_labels, (case, tensor)


@pytest.mark.parametrize("case", [c for c in CASES if c in (TF1_PLAIN + TF2)])
def test_the_loss_is_what_the_gradients_differentiate(case, corpus, opened):
    reading = read_program(opened[case].graph)
    assert corpus[case]["loss"].rsplit(":", 1)[0] in [o.loss for o in reading.objectives]
    assert set(reading.labels) == set(corpus[case]["labels"])
    assert set(corpus[case]["inputs"]) <= set(reading.features)


def test_a_bare_mean_loss_is_never_an_output(corpus, opened):
    sugg = opened["tf1_bare_mean_clipped"].suggestions
    assert corpus["tf1_bare_mean_clipped"]["loss"] == "Mean:0"
    assert "Mean:0" not in [s.tensor for s in sugg.outputs]
    # The streaming accuracy's ArgMax is a fine answer too; the clipped gradients are not.
    assert not any("clip_by_norm" in s.tensor for s in sugg.outputs)


def test_softmax_under_a_loss_scope_is_the_output(opened):
    proposal = opened["tf1_softmax_under_loss_scope"].proposal
    assert {s.key: s.tensor for s in proposal.outputs} == {
        "logits": "layer2/BiasAdd:0", "probabilities": "loss/Softmax:0"}


def test_batch_norm_updates_and_initializers_stay_out(opened):
    graph = opened["tf1_keras_fit+resnet"].graph
    moving = [n for n in graph.ops if "AssignMovingAvg" in n]
    assert moving, "the Keras block has batch-norm moving-average updates"
    initializers = [n for n in graph.ops if "/Initializer/" in n]
    assert initializers
    sugg = opened["tf1_keras_fit+resnet"].suggestions
    suggested = {s.tensor.rsplit(":", 1)[0] for s in sugg.outputs}
    assert not suggested & (set(moving) | set(initializers))
    assert [s.tensor for s in sugg.outputs[:2]].count("predictions/Softmax:0") == 1


def test_pipeline_inputs_are_the_tensors_handed_to_the_model(corpus, opened):
    parsed = opened["tf1_queue_parse_example"].suggestions.inputs
    assert parsed[0].tensor == "ParseExample/ParseExampleV2:0"
    assert parsed[0].kind == "pipeline"
    # The serialized strings the queue hands parse_example are not the model's input.
    assert not any(s.tensor.startswith("fifo_queue") for s in parsed)
    fed = opened["tf1_dataset_layers_bn"].suggestions.inputs
    assert [s.tensor for s in fed if not s.label] == corpus["tf1_dataset_layers_bn"]["inputs"]


def test_names_add_evidence_but_structure_wins(opened):
    sugg = opened["tf2_misleading_names"].suggestions
    assert sugg.inputs[0].tensor == "labels:0" and not sugg.inputs[0].label
    by_name = {s.tensor: s for s in sugg.inputs}
    assert by_name["input_images:0"].label
    assert sugg.outputs[0].tensor == "loss/logits/BiasAdd:0"


def test_is_machinery_names_initializers_and_moving_average_updates(opened):
    ops = opened["tf1_keras_fit+resnet"].graph.ops
    assert all(is_machinery(ops[n]) for n in ops if "/Initializer/" in n)
    assert all(is_machinery(ops[n]) for n in ops if "/AssignMovingAvg" in n)
    assert not is_machinery(ops["predictions/Softmax"])


def test_adam_weight_decay_slots_are_training_only(tmp_path):
    facts = suggest_corpus.tf2_adam_weight_decay(tmp_path)
    roles = {v.name: v.role for v in load_checkpoint(facts["prefix"]).variables.variables}
    assert all(roles[name] is Role.TRAINING for name in facts["slots"])
    assert all(roles[name] is Role.TRAINABLE for name in facts["trainable"])
    assert all(roles[name] is Role.MODEL for name in facts["state"])


def test_sources_carry_their_role(opened):
    reading = read_program(opened["tf2_dataset_functional_while"].graph)
    assert reading.features == ["IteratorGetNext:1"]
    assert reading.labels == ["IteratorGetNext:0"]
    assert {s.kind for s in reading.sources.values()} == {"pipeline"}


def test_a_softmax_read_only_by_a_summary_is_the_probability_head(opened):
    outputs = {s.key: s.tensor for s in opened["tf2_seq2seq"].proposal.outputs}
    assert outputs == {"logits": "decoder/Tensordot_1:0",
                       "token_probabilities": "token_probabilities:0"}
    assert [s.tensor for s in opened["tf2_seq2seq"].suggestions.outputs[:2]] == [
        "decoder/Tensordot_1:0", "token_probabilities:0"]


def test_draft_and_inspect_json_use_the_structural_suggestions(corpus, opened):
    keras = opened["tf1_keras_fit"]
    sig = draft_from_suggestions(keras).signatures[0]
    assert {s.key: s.tensor for s in sig.outputs} == {
        "logits": "classes/BiasAdd:0", "probabilities": corpus["tf1_keras_fit"]["outputs"][0]}
    assert [s.tensor for s in sig.inputs] == corpus["tf1_keras_fit"]["inputs"]
    summary = opened["tf1_queue_parse_example"].summary()
    first = summary["inputs"][0]
    assert (first["tensor"], first["kind"], first["label"]) == (
        "ParseExample/ParseExampleV2:0", "pipeline", False)
    assert {"ParseExample/ParseExampleV2:1"} == {
        s["tensor"] for s in summary["inputs"] if s["label"]}


def test_inspect_text_shows_the_proposal_and_marks_the_labels(opened):
    text = format_summary(opened["tf1_dataset_layers_bn"])
    proposed = text.split("Proposed signature 'serving_default' (predict)\n", 1)[1]
    lines = proposed.splitlines()
    assert lines[0].split() == ["input", "features", "=", "IteratorGetNext:0", "float32",
                                "[?,", "6]"]
    assert "what the input pipeline (IteratorGetNext) hands the model" in lines[1]
    other = text.split("Other inputs\n", 1)[1].splitlines()
    assert other[0].startswith("  IteratorGetNext:1") and other[0].endswith("(label)")
