"""What every training program of the test corpora must pass.

A corpus program (``tests/programs/*.py``, ``tests/heldout/*.py``) is written in the
style of a public TF1 training program: it trains a few steps in TF1 behaviour, saves a
Saver checkpoint, then builds its **inference twin** from the same model code (training
off, placeholders as inputs), restores it from the same checkpoint and runs it on sample
inputs. It returns these facts (JSON-able):

- ``prefix``: the checkpoint prefix;
- ``inputs`` / ``outputs``: ``{key: tensor}``, the signature a user would serve, in the
  training graph's names, keyed as Signet names slots (see `app.core.proposal.keys`);
- ``labels``: tensors the loss compares with (never proposed as inputs);
- ``switches``: ``{tensor: value}`` training switches bound for serving (may be empty);
- ``notes``: kinds of plain-words notes the proposal must carry (e.g. ``teacher_forcing``);
- ``samples``: an ``.npz`` of a batch (at least 3 examples) keyed by input key;
- ``expected``: an ``.npz`` of the twin's answers on it, keyed by output key.

`assert_proposal` checks Signet's proposal equals those facts; `assert_export_matches_twin`
exports with no signature flags at all (``signet export CKPT --out BASE --name NAME``), loads
the published SavedModel with TensorFlow's own loader and checks it answers as the twin, on
the whole batch and on each example alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

TOLERANCE = 1e-5


def assert_proposal(facts: dict[str, Any], loaded: Any) -> None:
    proposal = loaded.proposal
    got_inputs = {s.key: s.tensor for s in proposal.inputs}
    got_outputs = {s.key: s.tensor for s in proposal.outputs}
    assert got_inputs == facts["inputs"], ("inputs", got_inputs, facts["inputs"])
    assert got_outputs == facts["outputs"], ("outputs", got_outputs, facts["outputs"])
    assert not set(got_inputs.values()) & set(facts.get("labels", ())), "a label is an input"
    switches = {t: v for t, v in proposal.bind.items()}
    assert switches == facts.get("switches", {}), ("switches", switches)
    kinds = {n.kind for n in proposal.notes}
    assert set(facts.get("notes", ())) <= kinds, ("notes", kinds)
    for slot in (*proposal.inputs, *proposal.outputs):
        assert slot.why, f"{slot.key} has no why"


def export(prefix: str, base: Path, *flags: str, name: str = "model") -> tuple[Path, str]:
    """``signet export PREFIX --out BASE --name NAME FLAGS...``; returns (the published
    version folder, what it printed)."""
    import contextlib
    import io

    from app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["export", prefix, "--out", str(base), "--name", name, *flags])
    assert code == 0, err.getvalue()[-3000:]
    versions = sorted((p for p in (base / name).iterdir() if p.name.isdigit()),
                      key=lambda p: int(p.name))
    return versions[-1], out.getvalue()


def export_explicit(facts: dict[str, Any], base: Path) -> Path:
    """``signet export`` of the facts' signature with every flag spelled out (``--input``,
    ``--output``, ``--bind`` for the switches); returns the published version folder."""
    flags = ["--strip-training"]
    for key, tensor in facts["inputs"].items():
        flags += ["--input", f"{key}={tensor}"]
    for key, tensor in facts["outputs"].items():
        flags += ["--output", f"{key}={tensor}"]
    for tensor, value in facts["switches"].items():
        flags += ["--bind", f"{tensor}={json.dumps(value)}"]
    return export(facts["prefix"], base, *flags)[0]


def load_arrays(path: str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (samples or the twin's answers), by key."""
    with np.load(path, allow_pickle=False) as data:
        return dict(data)


def serve(version: Path, batches: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """Run the ``serving_default`` signature of a SavedModel, loaded once with
    TensorFlow's own loader, on each of ``batches`` (input key -> array)."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(version))
        sig = meta.signature_def["serving_default"]
        names = {k: v.name for k, v in sig.outputs.items()}
        return [sess.run(names, {sig.inputs[k].name: v for k, v in feeds.items()})
                for feeds in batches]


def assert_serves_as_twin(version: Path, facts: dict[str, Any]) -> None:
    """The SavedModel at ``version`` answers the facts' samples as the twin did: on the
    whole batch and on each example alone."""
    samples, expected = load_arrays(facts["samples"]), load_arrays(facts["expected"])
    assert set(samples) == set(facts["inputs"]), (sorted(samples), sorted(facts["inputs"]))
    assert set(expected) == set(facts["outputs"]), (sorted(expected), sorted(facts["outputs"]))
    batch = len(next(iter(samples.values())))
    answers = serve(version, [samples] + [{k: v[i:i + 1] for k, v in samples.items()}
                                          for i in range(batch)])
    for key, want in expected.items():
        np.testing.assert_allclose(answers[0][key], want, atol=TOLERANCE, rtol=TOLERANCE,
                                   err_msg=f"{key} on the whole batch")
        for i, alone in enumerate(answers[1:]):
            np.testing.assert_allclose(alone[key], want[i:i + 1], atol=TOLERANCE,
                                       rtol=TOLERANCE, err_msg=f"{key}, example {i} alone")


def assert_export_matches_twin(facts: dict[str, Any], base: Path) -> str:
    """Export with no signature flag at all and compare with the twin; returns what the
    export printed."""
    version, printed = export(facts["prefix"], base)
    assert_serves_as_twin(version, facts)
    return printed
