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

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.loader import load_checkpoint
from tests.heldout.corpus import PROGRAMS
from tests.isolated_build import build
from tests.program_checks import (
    TOLERANCE,
    assert_export_matches_twin,
    assert_proposal,
    serve,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("heldout")
    return build("tests.heldout.corpus:build_all", root, legacy_keras=True, names=PROGRAMS)


@pytest.fixture(scope="module")
def opened(corpus) -> dict[str, Any]:
    return {name: load_checkpoint(facts["prefix"]) for name, facts in corpus.items()}


def _arrays(path: str) -> dict[str, np.ndarray]:
    return dict(np.load(path, allow_pickle=False))


def export_explicit(facts: dict[str, Any], base: Path) -> Path:
    """``signet export PREFIX --out BASE --name m --input K=T ... --output K=T ...
    --bind T=V ... --strip-training``; returns the published version folder."""
    from app.cli import main

    argv = ["export", facts["prefix"], "--out", str(base), "--name", "m", "--strip-training"]
    for key, tensor in facts["inputs"].items():
        argv += ["--input", f"{key}={tensor}"]
    for key, tensor in facts["outputs"].items():
        argv += ["--output", f"{key}={tensor}"]
    for tensor, value in facts["switches"].items():
        argv += ["--bind", f"{tensor}={json.dumps(value)}"]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code == 0, err.getvalue()[-3000:]
    return next(p for p in (base / "m").iterdir() if p.name.isdigit())


@pytest.mark.parametrize("name", PROGRAMS)
def test_facts_name_training_tensors_shaped_like_the_twin(name, corpus, opened):
    facts, graph = corpus[name], opened[name].graph
    samples, expected = _arrays(facts["samples"]), _arrays(facts["expected"])
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
    samples, expected = _arrays(facts["samples"]), _arrays(facts["expected"])
    batch = len(next(iter(samples.values())))
    answers = serve(export_explicit(facts, tmp_path),
                    [samples] + [{k: v[i:i + 1] for k, v in samples.items()}
                                 for i in range(batch)])
    for key, want in expected.items():
        np.testing.assert_allclose(answers[0][key], want, atol=TOLERANCE, rtol=TOLERANCE,
                                   err_msg=f"{name}: {key} on the whole batch")
        for i, alone in enumerate(answers[1:]):
            np.testing.assert_allclose(alone[key], want[i:i + 1], atol=TOLERANCE,
                                       rtol=TOLERANCE, err_msg=f"{name}: {key}, example {i}")


@pytest.mark.parametrize("name", PROGRAMS)
def test_proposal_is_the_served_signature(name, corpus, opened):
    assert_proposal(corpus[name], opened[name])


@pytest.mark.parametrize("name", PROGRAMS)
def test_flag_free_export_answers_as_the_twin(name, corpus, tmp_path):
    assert_export_matches_twin(corpus[name], tmp_path)
