"""Training switches bound to inference, end to end against inference twins.

Each program of `tests.switch_builders` is trained with its switches fed their training
values and exported with only its real input and output given (no ``--bind``); the
SavedModel, loaded with TensorFlow's own loader, must answer as the twin built from the
same model code with the switches as Python values (``is_training=False``,
``keep_prob=1.0``) and restored from the same checkpoint: within 1e-5, for the whole
batch and for each example alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.core import rewrite
from app.core.errors import ExportError
from app.core.export import export_model
from app.core.loader import load_checkpoint
from app.core.rewrite import training_switch
from app.core.signature.draft import Draft, ExportOptions, Level, Signature, Slot
from app.core.signature.preset import load_preset, save_preset
from app.core.tf_runtime import tensorflow
from app.core.validation.draft import validate
from tests import switch_builders
from tests.isolated_build import build

# program -> {switch placeholder: (kind, value bound)}
EXPECTED = {
    "slim_style": {"is_training": ("mode", False)},
    "with_default": {"phase": ("mode", False)},
    "inverted": {"deterministic": ("mode", True)},
    "keep_prob": {"keep_prob": ("keep_prob", 1.0)},
    "rate": {"drop_rate": ("rate", 0.0)},
    "learning_rate": {"learning_rate": ("optimizer", 0.0)},
    "dataset_batch_size": {"batch_size": ("pipeline", None)},
    "queue_batch_size": {"batch_size": ("pipeline", None), "examples": ("pipeline", None),
                         "example_labels": ("pipeline", None)},
    "functional_if": {"training": ("mode", False)},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every program once: TF1 behaviour in one child process, the If program here."""
    root = tmp_path_factory.mktemp("switch")
    programs = build("tests.switch_builders:build_many", root / "v1", legacy_keras=True,
                     programs=list(switch_builders.PROGRAMS))
    programs["functional_if"] = switch_builders.functional_if(root / "functional_if")
    return programs


def _loaded(facts: dict):
    return load_checkpoint(Path(facts["prefix"]).parent)


def _draft(facts: dict, base: Path = Path("/nowhere"), **options) -> Draft:
    """The signature a user serves: the real input and the probabilities, nothing bound."""
    return Draft([Signature(inputs=[Slot("x", facts["input"])],
                            outputs=[Slot("probs", facts["output"])])],
                 options=ExportOptions(name="m", base=str(base), **options))


def _serve(path: Path, x: np.ndarray) -> np.ndarray:
    tf1 = tensorflow().compat.v1
    graph = tensorflow().Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        meta = tf1.saved_model.loader.load(sess, ["serve"], str(path))
        sig = meta.signature_def["serving_default"]
        return sess.run(sig.outputs["probs"].name, {sig.inputs["x"].name: x})


def _check_against_twin(facts: dict, path: Path) -> None:
    x = switch_builders.sample(tuple(facts["shape"]))
    expected = np.asarray(facts["expected"], np.float32)
    served = _serve(path, x)
    np.testing.assert_allclose(served, expected, atol=1e-5, rtol=0)
    for i in range(len(x)):  # each example alone answers as the twin does
        np.testing.assert_allclose(_serve(path, x[i:i + 1])[0], expected[i], atol=1e-5,
                                   rtol=0)


def _switches(findings: list[rewrite.Finding]) -> dict[str, rewrite.Finding]:
    return {f.key: f for f in findings if f.rewrite == training_switch.ID}


def _errors(draft: Draft, graph) -> list[str]:
    return [str(p) for p in validate(draft, graph) if p.level is Level.ERROR]


@pytest.mark.parametrize("program", list(EXPECTED))
def test_flag_free_export_serves_the_inference_twin(built, program, tmp_path):
    facts = built[program]
    loaded = _loaded(facts)
    draft = _draft(facts, tmp_path)
    found = _switches(rewrite.find_all(loaded.graph, draft))
    assert {key: (f.data["kind"], f.data["value"]) for key, f in found.items()} \
        == EXPECTED[program]
    for key, f in found.items():
        assert f.blocked is None and f.ops[0] == key and f.data["sites"]
        assert f.data["tensor"] == f"{key}:0" and f.data["dtype"] == \
            loaded.graph.tensor(f"{key}:0").dtype
        assert key in f.summary and "\n" not in f.summary
        json.dumps(f.data)  # presets and inspect --json
    assert [f.id for f in training_switch.switches(loaded.graph)] == \
        [f.id for f in found.values()]
    assert _errors(draft, loaded.graph) == []
    result = export_model(draft, loaded)
    assert result.verification is not None
    _check_against_twin(facts, result.path)


def test_the_if_program_as_saved_serves_its_training_mode(built, tmp_path):
    """Its flag defaults to True and no other rewrite sees inside an ``If`` branch: with
    the switch off, verification refuses the export (random, batch-dependent answers)
    and names the switch as the fix."""
    facts = built["functional_if"]
    draft = _draft(facts, tmp_path)
    draft.rewrites["training_switch:training"] = False
    with pytest.raises(ExportError, match=r"^verification: .*output 'probs' .*; the rewrite "
                                          r"'training_switch' .* switch "
                                          r"training_switch:training on"):
        export_model(draft, _loaded(facts))
    assert not (tmp_path / "m").exists() or not any(
        p.name.isdigit() for p in (tmp_path / "m").iterdir())


def test_the_applier_makes_constants_of_their_own_dtype_and_leaves_its_input(built):
    facts = built["keep_prob"]
    graph = _loaded(facts).graph
    meta = graph.meta_graph
    before = meta.SerializeToString()
    findings = training_switch.find(graph, _draft(facts))
    out = training_switch.apply(meta, findings).meta
    assert meta.SerializeToString() == before
    (node,) = [n for n in out.graph_def.node if n.name == "keep_prob"]
    assert node.op == "Const" and list(node.input) == []
    assert node.attr["dtype"].type == 1 and list(node.attr["value"].tensor.float_val) == [1.0]


def test_the_summaries_name_the_sites_in_the_users_words(built):
    summaries = {
        program: [f.summary for f in _switches(rewrite.find_all(
            _loaded(built[program]).graph, _draft(built[program]))).values()]
        for program in ("slim_style", "keep_prob", "rate", "dataset_batch_size")}
    assert summaries["slim_style"] == [
        "is_training is bound to False (inference): 4 conds around batch norm, dropout and "
        "variable updates take their inference branch (cond, conv1/BatchNorm/cond, "
        "conv1/BatchNorm/cond_1, …)"]
    assert summaries["keep_prob"] == [
        "keep_prob is bound to 1.0 (inference): 1 dropout keeps every unit (dropout)"]
    assert summaries["rate"] == [
        "drop_rate is bound to 0.0 (inference): 2 dropouts drop nothing (drop1/dropout, "
        "dropout)"]
    assert summaries["dataset_batch_size"] == [
        "batch_size is read only by the input pipeline (BatchDatasetV2); serving never reads "
        "it (the signature inputs rewired from the pipeline replace it), so nothing is bound"]


@pytest.mark.parametrize("program", ["slim_style", "inverted", "keep_prob", "rate"])
def test_switched_off_the_placeholder_is_unfed_again(built, program):
    facts = built[program]
    graph = _loaded(facts).graph
    (name,) = EXPECTED[program]
    draft = _draft(facts)
    draft.rewrites[f"training_switch:{name}"] = False
    assert any(f"the outputs need placeholder(s) no input feeds: {name}:0" in e
               for e in _errors(draft, graph))
    draft.rewrites[f"training_switch:{name}"] = True
    assert _errors(draft, graph) == []


def test_the_command_line_switch_refuses_naming_the_placeholder(built, tmp_path, capsys):
    facts = built["slim_style"]
    folder = str(Path(facts["prefix"]).parent)
    args = ["export", folder, "--out", str(tmp_path), "--name", "m", "--input",
            f"x={facts['input']}", "--output", f"probs={facts['output']}"]
    assert main([*args, "--no-rewrite", "training_switch:is_training"]) == 2
    err = capsys.readouterr().err
    assert "is_training:0" in err and "no input feeds" in err
    assert not (tmp_path / "m").exists()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert ("Training → serving: Training switch bound to inference: 1 site(s) (is_training); "
            "--no-rewrite training_switch leaves them as trained") in err
    _check_against_twin(facts, tmp_path / "m" / "1")


def test_a_blocked_batch_norm_only_in_the_untaken_branch_is_no_error(built):
    facts = built["with_default"]
    graph = _loaded(facts).graph
    draft = _draft(facts)
    findings = rewrite.find_all(graph, draft)
    (blocked,) = [f for f in findings if f.blocked is not None]
    assert blocked.rewrite == "batch_norm"  # the tutorial's tf.assign updates
    assert set(blocked.ops) <= training_switch.killed_ops(rewrite.active(findings, draft))
    assert _errors(draft, graph) == []
    draft.rewrites["training_switch:phase"] = False  # the flag's default True serves it
    assert _errors(draft, graph) == [
        f"training → serving: {blocked.id} cannot be rewritten: {blocked.blocked}"]


def test_dropout_only_in_the_untaken_branch_is_no_serving_problem(built):
    facts = built["with_default"]
    graph = _loaded(facts).graph
    draft = _draft(facts)
    draft.rewrites["dropout"] = False  # only the switch keeps the mask off the answer
    assert [p for p in validate(draft, graph) if p.level is not Level.INFO
            and "draws a new random mask" in str(p)] == []
    draft.rewrites["training_switch"] = False
    random = [str(p) for p in validate(draft, graph) if "draws a new random mask" in str(p)]
    assert len(random) == 1 and "unless phase:0 (left at its default) switches it off" \
        in random[0]


def test_a_users_binding_wins(built, tmp_path):
    facts = built["slim_style"]
    loaded = _loaded(facts)
    draft = _draft(facts, tmp_path)
    assert list(_switches(rewrite.find_all(loaded.graph, draft))) == ["is_training"]
    draft.bound["is_training"] = False
    assert _switches(rewrite.find_all(loaded.graph, draft)) == {}
    assert [p for p in validate(draft, loaded.graph) if p.level is not Level.INFO] == []
    _check_against_twin(facts, export_model(draft, loaded).path)
    keep = built["keep_prob"]
    draft = _draft(keep)
    draft.bound["keep_prob:0"] = 1.0
    assert _switches(rewrite.find_all(_loaded(keep).graph, draft)) == {}


def test_a_binding_the_rewrites_override_is_said(built, tmp_path):
    """A keep_prob bound to 0.5 does not reach the bypassed dropout: said, not dropped."""
    facts = built["keep_prob"]
    loaded = _loaded(facts)
    draft = _draft(facts, tmp_path)
    draft.bound["keep_prob"] = 0.5
    warnings = [str(p) for p in validate(draft, loaded.graph) if p.level is Level.WARNING]
    assert warnings == ["training → serving: the binding keep_prob=0.5 changes nothing at "
                        "dropout:dropout: that rewrite serves it in inference form, as at "
                        "keep_prob=1.0"]
    result = export_model(draft, loaded)
    assert [str(n) for n in result.notes if n.level is Level.WARNING] == warnings
    _check_against_twin(facts, result.path)
    slim = built["slim_style"]
    draft = _draft(slim)
    draft.bound["is_training"] = True
    (line,) = [str(p) for p in validate(draft, _loaded(slim).graph)
               if p.level is Level.WARNING]
    assert line.startswith("training → serving: the binding is_training=True changes nothing "
                           "at dropout:cond, batch_norm:conv1/BatchNorm, batch_norm:fc1/"
                           "BatchNorm: those rewrites serve them in inference form")
    draft.bound["is_training"] = False  # the inference value: nothing to say
    assert [p for p in validate(draft, _loaded(slim).graph) if p.level is Level.WARNING] == []


def test_a_preset_keeps_a_site_switched_off(built, tmp_path):
    facts = built["slim_style"]
    graph = _loaded(facts).graph
    draft = _draft(facts)
    draft.rewrites["training_switch:is_training"] = False
    loaded = load_preset(save_preset(draft, tmp_path / "p.json"))
    assert loaded.rewrites == {"training_switch:is_training": False}
    listed = rewrite.describe(rewrite.find_all(graph, loaded), loaded)
    assert [(item["id"], item["on"]) for item in listed
            if item["rewrite"] == training_switch.ID] == [("training_switch:is_training", False)]
    assert any("is_training:0" in e for e in _errors(loaded, graph))


def test_finding_and_validating_switches_never_import_tensorflow(built):
    """The window runs the finders and validation on its UI thread, without TensorFlow."""
    facts = built["slim_style"]
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from app.core.disk.metagraph import read_meta_graph\n"
        "from app.core.graph.opgraph import OpGraph\n"
        "from app.core.rewrite import training_switch\n"
        "from app.core.signature.draft import Draft, Signature, Slot\n"
        "from app.core.validation.draft import validate\n"
        f"graph = OpGraph(read_meta_graph(Path({facts['prefix'] + '.meta'!r})))\n"
        f"draft = Draft([Signature(inputs=[Slot('x', {facts['input']!r})], "
        f"outputs=[Slot('p', {facts['output']!r})])], bound={{'is_training': True}})\n"
        "assert [f.key for f in training_switch.switches(graph)] == ['is_training']\n"
        "assert any('is_training=True' in str(p) for p in validate(draft, graph))\n"
        "print('tensorflow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.strip() == "False"
