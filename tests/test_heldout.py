"""The held-out corpus of issue 23 (`tests.heldout`): public-style TF1 training programs
nobody tuned the proposal on.

Built once per module in one TF1-behaviour child process (about a minute). For each
program: the facts' tensors exist in the training graph with the dtype and trailing shape
of the twin's samples and answers (a pipeline may give training a static batch); the
explicit export of those facts (``--input``/``--output``/``--bind`` flags) answers as
the inference twin, batch and each example alone; Signet's proposal equals the facts;
and the flag-free export answers as the twin.

Run alone: ``pytest tests/test_heldout.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.core.loader import load_checkpoint
from tests.heldout.corpus import PROGRAMS
from tests.isolated_build import build
from tests.program_checks import (
    assert_export_matches_twin,
    assert_proposal,
    assert_serves_as_twin,
    export_explicit,
    load_arrays,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("heldout")
    return build("tests.heldout.corpus:build_all", root, legacy_keras=True, names=PROGRAMS)


@pytest.fixture(scope="module")
def opened(corpus) -> dict[str, Any]:
    return {name: load_checkpoint(facts["prefix"]) for name, facts in corpus.items()}


@pytest.mark.parametrize("name", PROGRAMS)
def test_facts_name_training_tensors_shaped_like_the_twin(name, corpus, opened):
    facts, graph = corpus[name], opened[name].graph
    samples, expected = load_arrays(facts["samples"]), load_arrays(facts["expected"])
    assert len(next(iter(samples.values()))) >= 3
    for kind, arrays in (("inputs", samples), ("outputs", expected)):
        for key, tensor_name in facts[kind].items():
            tensor = graph.tensor(tensor_name)
            assert tensor is not None, f"{name}: {kind} {key}={tensor_name} is not in the graph"
            want = arrays[key]
            assert np.dtype(tensor.dtype) == want.dtype, (key, tensor.dtype, want.dtype)
            assert tensor.shape is not None and len(tensor.shape) == want.ndim, (
                key, tensor.shape, want.shape)
            for dim, size in zip(tensor.shape[1:], want.shape[1:], strict=True):
                assert dim in (None, size), (key, tensor.shape, want.shape)
    for tensor_name in (*facts["labels"], *facts["switches"]):
        assert graph.tensor(tensor_name) is not None, tensor_name
    assert not set(facts["labels"]) & set(facts["inputs"].values())


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
