"""The issue-23 development corpus: TF1 training programs in the style of public ones.

The corpus (`tests.programs`) is built once for this module, in one child process with
TF1 behaviour (about a minute); run it alone with ``pytest tests/test_programs.py``.
For every program:

- its facts hold in the training graph: each input, output, label and switch exists
  there, the samples and the twin's answers have those tensors' dtypes and shapes;
  training moved its batch-norm statistics;
- an export of exactly that signature, with explicit flags (``--input``/``--output``
  and ``--bind`` for the training switches) answers as the inference twin, on the
  batch and on each example alone: the program and its twin agree with Signet's
  rewrites, so the two checks below test the proposal and nothing else;
- Signet's proposal is that signature (`program_checks.assert_proposal`) and the
  flag-free export answers as the twin (`program_checks.assert_export_matches_twin`).
"""

from __future__ import annotations

import numpy as np
import pytest

from app.core.loader import load_checkpoint
from tests.isolated_build import build
from tests.program_checks import (
    assert_export_matches_twin,
    assert_proposal,
    assert_serves_as_twin,
    export_explicit,
    load_arrays,
)
from tests.programs import PROGRAMS


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, dict]:
    # One TensorFlow start for all programs; the RNN and tf.compat.v1.layers ones need
    # legacy Keras, which the others do not mind.
    return build("tests.programs:build_corpus", tmp_path_factory.mktemp("programs"),
                 legacy_keras=True, names=list(PROGRAMS))


@pytest.fixture(scope="module")
def opened(corpus) -> dict:
    return {name: load_checkpoint(facts["prefix"]) for name, facts in corpus.items()}


def _agrees(spec_shape, array: np.ndarray) -> bool:
    """A graph shape (None: unknown) fits an array batch, whose batch size may differ
    (a pipeline tensor has the training batch size)."""
    if spec_shape is None:
        return True
    if len(spec_shape) != array.ndim:
        return False
    return all(d is None or d == n for d, n in zip(spec_shape[1:], array.shape[1:],
                                                    strict=True))


_DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64, "bool": np.bool_}


def _dtype_matches(graph_dtype: str, array: np.ndarray) -> bool:
    if graph_dtype == "string":
        return array.dtype.kind == "S"
    return array.dtype == _DTYPES[graph_dtype]


@pytest.mark.parametrize("name", PROGRAMS)
def test_facts_hold_in_the_training_graph(name, corpus, opened):
    facts, graph = corpus[name], opened[name].graph
    samples, expected = load_arrays(facts["samples"]), load_arrays(facts["expected"])
    assert set(samples) == set(facts["inputs"]) and set(expected) == set(facts["outputs"])
    batch = {len(a) for a in samples.values()}
    assert len(batch) == 1 and batch.pop() >= 3, {k: a.shape for k, a in samples.items()}
    for kind, slots, arrays in (("input", facts["inputs"], samples),
                                ("output", facts["outputs"], expected)):
        for key, name_ in slots.items():
            tensor = graph.tensor(name_)
            assert tensor is not None, f"{kind} {key}: {name_} is not in the graph"
            assert _dtype_matches(tensor.dtype, arrays[key]), (key, tensor, arrays[key].dtype)
            assert _agrees(tensor.shape, arrays[key]), (key, tensor, arrays[key].shape)
    for key, answer in expected.items():
        assert np.all(np.isfinite(answer)), f"the twin's {key} is not finite"
    for label in facts["labels"]:
        assert graph.tensor(label) is not None, label
        assert label not in facts["inputs"].values()
    for switch in facts["switches"]:
        assert graph.tensor(switch).op.type in ("Placeholder", "PlaceholderWithDefault")


@pytest.mark.parametrize("name", PROGRAMS)
def test_training_moved_the_batch_norm_statistics(name, corpus):
    """Trained a few steps in training mode: every moving mean and variance in the
    checkpoint left its initial 0/1, so serving them is not serving an untrained norm."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(corpus[name]["prefix"])
    for variable in reader.get_variable_to_shape_map():
        for suffix, initial in (("moving_mean", 0.0), ("moving_variance", 1.0)):
            if variable.endswith(suffix):
                assert not np.allclose(reader.get_tensor(variable), initial), variable


@pytest.mark.parametrize("name", PROGRAMS)
def test_explicit_export_answers_as_the_twin(name, corpus, tmp_path):
    facts = corpus[name]
    assert_serves_as_twin(export_explicit(facts, tmp_path), facts)


@pytest.mark.parametrize("name", PROGRAMS)
def test_proposal_is_the_served_signature(name, corpus, opened):
    assert_proposal(corpus[name], opened[name])


@pytest.mark.parametrize("name", PROGRAMS)
def test_flag_free_export_answers_as_the_twin(name, corpus, tmp_path):
    assert_export_matches_twin(corpus[name], tmp_path)
