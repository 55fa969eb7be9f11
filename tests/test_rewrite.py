"""The inference-rewrite plan, input rewiring and the Keras learning phase, end to end.

Each case trains a graph fed the way training code feeds it, exports it with Signet
and compares the SavedModel (loaded with TensorFlow's own loader) with the inference
twin built from the same model code and restored from the same checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.core import rewrite
from app.core.errors import ExportError
from app.core.export import export_model
from app.core.loader import load_checkpoint
from app.core.signature.draft import Draft, ExportOptions, Level, Signature, Slot
from app.core.signature.preset import from_json, to_json
from app.core.tf_runtime import tensorflow
from app.core.validation.draft import validate
from tests import rewrite_builders
from tests.isolated_build import build

BATCH = np.random.default_rng(11).normal(size=(5, rewrite_builders.FEATURES)).astype(np.float32)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every training graph once: TF1 behaviour in a child process, TF2 in-process."""
    root = tmp_path_factory.mktemp("rewrite")
    return {
        "iterator_v1": build("tests.rewrite_builders:build_iterator", root / "it1"),
        "queue_v1": build("tests.rewrite_builders:build_queue", root / "q1"),
        "iterator_phase_v1": build("tests.rewrite_builders:build_iterator", root / "itp1",
                                   phase=True),
        "phase_v1": build("tests.rewrite_builders:build_learning_phase", root / "lp1"),
        "keras_v1": build("tests.rewrite_builders:build_keras_learning_phase", root / "k1",
                          legacy_keras=True),
        "iterator_v2": rewrite_builders.build_iterator(root / "it2"),
        "phase_v2": rewrite_builders.build_learning_phase(root / "lp2", with_default=True),
    }


def _draft(facts: dict, tmp: Path, **options) -> Draft:
    return Draft([Signature(inputs=[Slot("x", facts["input"])],
                            outputs=[Slot("probs", facts["output"])])],
                 options=ExportOptions(name="m", base=str(tmp), **options))


def _twin(facts: dict, x: np.ndarray) -> np.ndarray:
    tf1 = tensorflow().compat.v1
    graph = tensorflow().Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        saver = tf1.train.import_meta_graph(str(Path(facts["prefix"]).parent / "twin.meta"))
        saver.restore(sess, facts["prefix"])
        return sess.run(facts["twin_output"], {facts["twin_input"]: x})


def _serve(path: Path, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Run the export's serving_default with TensorFlow's SavedModel loader."""
    tf1 = tensorflow().compat.v1
    graph = tensorflow().Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(path))
        sig = meta.signature_def["serving_default"]
        feed = sig.inputs["x"]
        out = sess.run(sig.outputs["probs"].name, {feed.name: x})
        return out, {"shape": [d.size for d in feed.tensor_shape.dim], "name": feed.name,
                     "ops": {n.name for n in graph.as_graph_def().node}}


def _check_against_twin(facts: dict, path: Path) -> dict:
    served, info = _serve(path, BATCH)
    np.testing.assert_allclose(served, _twin(facts, BATCH), atol=1e-5, rtol=0)
    again, _ = _serve(path, BATCH)
    np.testing.assert_array_equal(served, again)  # deterministic
    for i in range(len(BATCH)):  # each example alone answers as in the batch
        alone, _ = _serve(path, BATCH[i:i + 1])
        np.testing.assert_allclose(alone[0], served[i], atol=1e-5, rtol=0)
    return info


@pytest.mark.parametrize("case", ["iterator_v1", "queue_v1", "iterator_v2",
                                  "iterator_phase_v1"])
@pytest.mark.parametrize("strip", [False, True])
def test_pipeline_input_becomes_an_open_batch_placeholder(built, case, strip, tmp_path):
    facts = built[case]
    loaded = load_checkpoint(Path(facts["prefix"]).parent)
    draft = _draft(facts, tmp_path, strip_training=strip)
    findings = rewrite.find_all(loaded.graph, draft)
    (site,) = [f for f in findings if f.rewrite == "inputs"]
    assert site.id == f"inputs:{facts['input']}" and site.blocked is None
    pipeline = {loaded.graph.ops[op].type for op in site.ops}
    assert pipeline & {"IteratorGetNext", "ParseExampleV2", "QueueDequeueManyV2"}
    assert loaded.graph.tensor(facts["input"]).shape[0] == 4  # the training batch

    result = export_model(draft, loaded)
    assert result.verification is not None
    info = _check_against_twin(facts, result.path)
    assert info["shape"] == [-1, rewrite_builders.FEATURES]
    assert info["name"].startswith("signet_input/")
    if strip:  # the pipeline left the file
        assert not info["ops"] & set(site.ops)


def test_switching_the_rewiring_off_keeps_the_training_batch(built, tmp_path):
    facts = built["iterator_v2"]
    loaded = load_checkpoint(Path(facts["prefix"]).parent)
    draft = _draft(facts, tmp_path)
    draft.rewrites[f"inputs:{facts['input']}"] = False
    assert rewrite.active(rewrite.find_all(loaded.graph, draft), draft) == []
    applied = rewrite.apply_all(loaded.graph.meta_graph, loaded.graph, draft)
    assert applied.meta is loaded.graph.meta_graph and applied.renamed == {}
    result = export_model(draft, loaded)
    _, info = _serve(result.path, BATCH[:4])
    assert info["shape"] == [4, rewrite_builders.FEATURES] and info["name"] == facts["input"]


@pytest.mark.parametrize("case", ["phase_v1", "phase_v2", "keras_v1"])
def test_learning_phase_is_bound_to_inference(built, case, tmp_path):
    facts = built[case]
    loaded = load_checkpoint(Path(facts["prefix"]).parent)
    draft = _draft(facts, tmp_path)
    found = rewrite.find_all(loaded.graph, draft)
    (site,) = [f for f in found if f.rewrite == "learning_phase"]
    assert site.id == "learning_phase:keras_learning_phase" and site.ops == (
        "keras_learning_phase",)
    assert rewrite.bypassed_ops(rewrite.active([site], draft)) == {"keras_learning_phase"}
    assert not any(p.level is Level.ERROR for p in validate(draft, loaded.graph))
    result = export_model(draft, loaded)
    _check_against_twin(facts, result.path)


def test_learning_phase_off_leaves_the_training_answer(built, tmp_path):
    # TF1's plain placeholder: off, the outputs need a placeholder nobody feeds.
    plain = load_checkpoint(Path(built["phase_v1"]["prefix"]).parent)
    draft = _draft(built["phase_v1"], tmp_path)
    draft.rewrites["learning_phase"] = False
    errors = [str(p) for p in validate(draft, plain.graph) if p.level is Level.ERROR]
    assert any("keras_learning_phase:0" in e for e in errors)
    # TF2's default True: off, the export serves dropout and verification refuses it.
    facts = built["phase_v2"]
    draft = _draft(facts, tmp_path)
    draft.rewrites["learning_phase:keras_learning_phase"] = False
    with pytest.raises(ExportError, match=r"random|differ|twice"):
        export_model(draft, load_checkpoint(Path(facts["prefix"]).parent))
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_a_blocked_site_is_an_error_until_kept(built):
    loaded = load_checkpoint(Path(built["iterator_v2"]["prefix"]).parent)
    draft = _draft(built["iterator_v2"], Path("/nonexistent"))
    real = rewrite.find_all(loaded.graph, draft)
    blocked = [rewrite.Finding(f.rewrite, f.key, f.ops, f.summary, blocked="no way")
               for f in real]
    problems = rewrite.plan_problems(loaded.graph, draft, blocked)
    (error,) = problems
    assert error.level is Level.ERROR and "\n" not in str(error)
    assert f"--keep inputs:{built['iterator_v2']['input']}" in str(error)
    draft.kept.append(blocked[0].id)
    assert rewrite.plan_problems(loaded.graph, draft, blocked) == []
    assert rewrite.active(blocked, draft) == []


def test_bind_accepts_constants(built, tmp_path):
    """With the rewrite off, binding the phase and dropout's constants gives inference too."""
    facts = built["phase_v1"]
    loaded = load_checkpoint(Path(facts["prefix"]).parent)
    draft = _draft(facts, tmp_path)
    draft.rewrites["learning_phase"] = False
    assert loaded.graph.ops["model/cond/dropout/Const"].type == "Const"
    draft.bound.update({"keras_learning_phase": True,  # training branch taken...
                        "model/cond/dropout/GreaterEqual/y": 0.0,  # ...keeping every unit
                        "model/cond/dropout/Const": 1.0})  # ...unscaled
    assert not any(p.level is Level.ERROR for p in validate(draft, loaded.graph))
    result = export_model(draft, loaded)
    _check_against_twin(facts, result.path)


def test_presets_keep_switches_and_old_presets_load():
    draft = Draft(rewrites={"dropout": False, "inputs:IteratorGetNext:0": True},
                  kept=["batch_norm:bn/FusedBatchNormV3"])
    again = from_json(json.loads(json.dumps(to_json(draft))))
    assert again.rewrites == draft.rewrites and again.kept == draft.kept
    old = {"format": "signet-preset", "version": 1, "signatures": []}
    assert from_json(old).rewrites == {} and from_json(old).kept == []
    with pytest.raises(Exception, match="rewrites"):
        from_json({**old, "rewrites": {"dropout": "no"}}, "p.json")


def test_cli_exports_the_inference_answer_and_inspect_lists_findings(built, tmp_path,
                                                                     capsys):
    facts = built["queue_v1"]
    folder = Path(facts["prefix"]).parent
    code = main(["export", str(folder), "--out", str(tmp_path), "--name", "q",
                 "--input", f"x={facts['input']}", "--output", f"probs={facts['output']}"])
    assert code == 0
    err = capsys.readouterr().err
    assert (f"Training → serving: Inputs rewired to placeholders: 1 site(s) ({facts['input']})"
            in err)
    _check_against_twin(facts, tmp_path / "q" / "1")
    phase = built["phase_v1"]
    assert main(["inspect", str(Path(phase["prefix"]).parent), "--json",
                 "--no-rewrite", "learning_phase"]) == 0
    items = [item for item in json.loads(capsys.readouterr().out)["rewrites"]
             if item["rewrite"] == "learning_phase"]
    assert items == [{"id": "learning_phase:keras_learning_phase",
                      "rewrite": "learning_phase", "ops": ["keras_learning_phase"],
                      "summary": items[0]["summary"], "blocked": None, "warning": None,
                      "on": False, "kept": False}]


def test_registry_order_and_switch_precedence():
    ids = [r.id for r in rewrite.registry()]
    assert ids[:2] == ["inputs", "learning_phase"]  # inputs are rewired first
    assert ids == [m for m in rewrite.MODULES if m in ids]
    site = rewrite.Finding("inputs", "it:0", ("it",), "s")
    draft = Draft()
    assert rewrite.is_on(site, draft)  # default on
    draft.rewrites["inputs"] = False
    assert not rewrite.is_on(site, draft)
    draft.rewrites["inputs:it:0"] = True  # the site's own switch wins
    assert rewrite.is_on(site, draft)
    renamed = rewrite.renamed_draft(_draft({"input": "it", "output": "y"}, Path("/x")),
                                    {"it:0": "signet_input/it_0:0"})
    assert renamed.signatures[0].inputs[0].tensor == "signet_input/it_0:0"


def test_switches_naming_nothing_are_reported(built):
    loaded = load_checkpoint(Path(built["phase_v2"]["prefix"]).parent)
    draft = _draft(built["phase_v2"], Path("/x"))
    draft.rewrites.update({"learning_phse": False, "inputs:gone:0": False})
    problems = {p.level: str(p) for p in rewrite.plan_problems(loaded.graph, draft)}
    assert "no rewrite 'learning_phse'" in problems[Level.WARNING]
    assert "inputs:gone:0 is not in this graph" in problems[Level.INFO]


def test_finding_and_validating_never_reach_for_tensorflow(built, monkeypatch):
    """The window runs the finders on the UI thread, where TensorFlow is never used."""
    import builtins

    facts = built["iterator_v1"]
    loaded = load_checkpoint(Path(facts["prefix"]).parent)
    draft = _draft(facts, Path("/x"))
    real_import = builtins.__import__

    def guarded(name, *args, **kwargs):
        if name.split(".")[0] == "tensorflow":
            raise AssertionError(f"a finder imported {name}")
        return real_import(name, *args, **kwargs)

    rewrite.registry()
    monkeypatch.setattr(builtins, "__import__", guarded)
    found = rewrite.find_all(loaded.graph, draft)
    validate(draft, loaded.graph)
    monkeypatch.undo()
    assert [f.rewrite for f in found] == ["inputs"]


def test_suggested_drafts_leave_the_learning_phase_to_its_rewrite(built):
    from app.core.validation.draft import draft_from_suggestions

    loaded = load_checkpoint(Path(built["phase_v1"]["prefix"]).parent)
    draft = draft_from_suggestions(loaded)
    assert draft.signatures[0].outputs
    assert "keras_learning_phase:0" not in [s.tensor for s in draft.signatures[0].inputs]
    draft.rewrites["learning_phase"] = False  # off, it is a placeholder to feed again
    errors = [str(p) for p in validate(draft, loaded.graph) if p.level is Level.ERROR]
    assert any("keras_learning_phase:0" in e for e in errors)


def test_cli_switches_land_in_the_draft_on_top_of_a_preset(tmp_path):
    from app.cli import build_parser
    from app.commands.export import draft_from_args
    from app.core.signature.preset import save_preset

    preset = tmp_path / "p.json"
    save_preset(Draft([Signature(inputs=[Slot("x", "a:0")], outputs=[Slot("y", "b:0")])],
                      rewrites={"inputs": False, "learning_phase": False}, kept=["inputs:a:0"]),
                preset)
    args = build_parser().parse_args([
        "export", "ckpt", "--out", str(tmp_path), "--name", "n", "--preset", str(preset),
        "--rewrite", "inputs", "--no-rewrite", "inputs:a:0", "--keep", "dropout:d",
        "--keep", "inputs:a:0"])
    draft = draft_from_args(args)
    assert draft.rewrites == {"inputs": True, "learning_phase": False, "inputs:a:0": False}
    assert draft.kept == ["inputs:a:0", "dropout:d"]
