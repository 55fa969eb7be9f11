"""Hostile SavedModels, scalars and REST bodies, held to the bad-input corpus's promise:

a correct answer, or one clear line (``signet: …``, or the server's ``{"error": …}``
body for `run`) and exit status 2; never a traceback, never a signal, and nothing
published by an export that fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.core.tf_runtime import tensorflow
from tests.checkpoints import save_initialized
from tests.isolated_build import ROOT, build


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _clean_failure(code: int, out: str, err: str, expected: str) -> None:
    """Exit 2 with one ``signet:`` line containing ``expected``, and no traceback."""
    errors = [line for line in err.splitlines() if line.startswith("signet")]
    assert code == 2, out + err
    assert len(errors) == 1 and expected in errors[0], err
    assert "Traceback" not in out + err


def _checkpoint(directory: Path, model) -> Path:
    """A TF2-behaviour checkpoint whose graph ``model(tf, tf1)`` builds."""
    tf = tensorflow()
    graph = tf.Graph()
    directory.mkdir(parents=True, exist_ok=True)
    with graph.as_default():
        model(tf, tf.compat.v1)
    return Path(save_initialized(graph, directory / "m.ckpt"))


def _scalar_model(tf, tf1) -> None:
    """y = 2·s·w for a scalar placeholder s (a temperature, a threshold)."""
    s = tf1.placeholder(tf.float32, [], name="s")
    w = tf1.get_variable("w", [], initializer=tf1.ones_initializer())
    tf.identity(s * w * 2.0, name="y")


def _scaled_rows_model(tf, tf1) -> None:
    """y = x·w·s: a batch of rows scaled by a scalar input."""
    x = tf1.placeholder(tf.float32, [None, 3], name="x")
    s = tf1.placeholder(tf.float32, [], name="s")
    w = tf1.get_variable("w", [3], initializer=tf1.ones_initializer())
    tf.identity(x * w * s, name="y")


def _unknown_rank_model(tf, tf1) -> None:
    x = tf1.placeholder(tf.float32, None, name="x")
    w = tf1.get_variable("w", [], initializer=tf1.ones_initializer())
    tf.identity(x * w * 2.0, name="y")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Model name -> its published model folder, exported (verified) once per module."""
    root = tmp_path_factory.mktemp("hostile")
    base = root / "models"
    models = {"scalar": (_scalar_model, ["--input", "s=s"]),
              "scaled_rows": (_scaled_rows_model, ["--input", "x=x", "--input", "s=s"]),
              "unknown_rank": (_unknown_rank_model, ["--input", "x=x"])}
    printed = {}
    for name, (model, inputs) in models.items():
        prefix = _checkpoint(root / "ckpt" / name, model)
        out = _export(prefix, base, name, *inputs, "--output", "y=y")
        printed[name] = out
    return base, printed


def _export(prefix: Path, base: Path, name: str, *extra: str) -> str:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["export", str(prefix), "--out", str(base), "--name", name, *extra])
    assert code == 0, err.getvalue()
    return out.getvalue()


def _body(tmp_path: Path, body: dict | str) -> Path:
    path = tmp_path / "body.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return path


def _answer(capsys, folder: Path, tmp_path: Path, body: dict | str) -> tuple[int, dict]:
    code, out, err = _cli(capsys, "run", folder, "--request", _body(tmp_path, body))
    assert "Traceback" not in out + err
    return code, json.loads(out)


def _printed_body(out: str) -> dict:
    marker = "REST :predict body for 'serving_default':\n"
    return json.loads(out.split(marker, 1)[1].splitlines()[0])


# ------------------------------------------------------------ 2: scalar inputs


def test_a_scalar_input_verifies_exports_and_answers(exports, tmp_path, capsys):
    base, printed = exports
    out = printed["scalar"]
    assert "Verification: verified 1 signature(s)" in out
    assert "would refuse" not in out
    body = _printed_body(out)
    assert isinstance(body["inputs"]["s"], float)  # rank 0 in the sample, not [x]
    code, answer = _answer(capsys, base / "scalar", tmp_path, {"inputs": 2.0})
    assert (code, answer) == (0, {"outputs": 4.0})
    code, answer = _answer(capsys, base / "scalar", tmp_path, body)
    assert code == 0 and answer["outputs"] == pytest.approx(2 * body["inputs"]["s"])


def test_a_scalar_input_without_verification_says_nothing_false(exports, tmp_path, capsys):
    base, _ = exports
    prefix = next((base.parent / "ckpt" / "scalar").glob("*.index")).with_suffix("")
    code, out, err = _cli(capsys, "export", prefix, "--out", tmp_path, "--name", "s",
                          "--input", "s=s", "--output", "y=y", "--no-verify")
    assert code == 0, err
    assert "would refuse" not in out + err
    assert "Verification: skipped" in out


def test_the_warmup_records_of_a_scalar_input_stay_rank_0(exports):
    from app.core.export.warmup import read_warmup, record_inputs, warmup_path

    base, _ = exports
    version = max((base / "scalar").iterdir(), key=lambda p: int(p.name))
    for log in read_warmup(warmup_path(version)):
        _, _, inputs = record_inputs(log)
        assert inputs["s"].shape == ()


def test_a_scalar_next_to_a_batch_input(exports, tmp_path, capsys):
    base, printed = exports
    body = _printed_body(printed["scaled_rows"])
    assert isinstance(body["inputs"]["s"], float) and len(body["inputs"]["x"]) == 1
    code, answer = _answer(capsys, base / "scaled_rows", tmp_path,
                           {"inputs": {"x": [[1.0, 2.0, 3.0]], "s": 2.0}})
    assert (code, answer) == (0, {"outputs": [[2.0, 4.0, 6.0]]})


def test_an_unknown_rank_input_keeps_the_rank_it_is_sent(exports, tmp_path, capsys):
    base, _ = exports
    folder = base / "unknown_rank"
    assert _answer(capsys, folder, tmp_path, {"inputs": 3.0}) == (0, {"outputs": 6.0})
    assert _answer(capsys, folder, tmp_path, {"inputs": [3.0]}) == (0, {"outputs": [6.0]})
    assert _answer(capsys, folder, tmp_path, {"inputs": [[3.0]]}) == (0, {"outputs": [[6.0]]})


def test_tryit_sample_of_a_scalar_input_is_rank_0(tmp_path):
    from app.core.loader import load_checkpoint
    from app.core.signature import Draft, Signature, Slot
    from app.core.tryit import sample_request

    prefix = _checkpoint(tmp_path / "ck", _scaled_rows_model)
    loaded = load_checkpoint(prefix)
    draft = Draft([Signature(inputs=[Slot("x", "x:0"), Slot("s", "s:0")],
                             outputs=[Slot("y", "y:0")])])
    body = json.loads(sample_request(draft, loaded.graph))
    assert isinstance(body["inputs"]["s"], float)


# ------------------------------------------------------------ 1: ref-typed signature inputs


def ref_input_saved_model(directory: Path) -> dict:
    """A TF1 SavedModel whose signature input is a ref variable's output (``v:0`` of a
    VariableV2): ``serving_default`` records its dtype as the base type (float), as a
    hand-built SignatureDef may, and ``as_ref`` as the ref type itself."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        tf1.Variable([1.0, 2.0], name="v", use_resource=False)
        ref = graph.get_tensor_by_name("v:0")
        y = tf.identity(ref * 2.0, name="y")
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            builder = tf1.saved_model.Builder(str(directory / "1"))
            info = tf1.saved_model.build_tensor_info
            as_ref = tf1.saved_model.signature_def_utils.build_signature_def(
                {"v": info(ref)}, {"y": info(y)}, "tensorflow/serving/predict")
            as_base = type(as_ref)()
            as_base.CopyFrom(as_ref)
            as_base.inputs["v"].dtype = tf.float32.as_datatype_enum
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": as_base,
                                                    "as_ref": as_ref})
            builder.save()
    return {"ref_dtype": int(as_ref.inputs["v"].dtype)}


@pytest.fixture(scope="module")
def ref_saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ref_saved_model")
    built = build("tests.test_hostile_serving:ref_input_saved_model", folder)
    assert built["ref_dtype"] > 100  # DT_FLOAT_REF
    return folder


def _run_in_child(folder: Path, body: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """`signet run` in its own process: an abort there fails the test, not the test run."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "app", "run", str(folder), "--request",
                           str(_body(tmp_path, body))], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_ref_variable_input_is_fed_with_its_base_type(ref_saved_model, tmp_path):
    proc = _run_in_child(ref_saved_model, {"inputs": [3.0, 4.0]}, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == {"outputs": [6.0, 8.0]}


def test_a_ref_typed_signature_gets_the_servers_refusal(ref_saved_model, tmp_path):
    proc = _run_in_child(ref_saved_model, {"signature_name": "as_ref", "inputs": [3.0]},
                         tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == {
        "error": "Conversion of JSON Value: 3.0 to type: float_ref"}


def test_feeds_of_types_without_plain_values_are_refused_not_crashed(ref_saved_model):
    from app.core.cc_session import CcSession, to_tensor

    tf = tensorflow()
    session = CcSession(ref_saved_model / "1", ["serve"])
    try:
        for dtype in (tf.resource, tf.variant):
            with pytest.raises(TypeError, match=f"cannot feed a tensor of type {dtype.name}"):
                to_tensor(0, dtype.as_datatype_enum)
        assert session.run(["y:0"], {"v:0": [1.0, 1.0]})[0].tolist() == [2.0, 2.0]
    finally:
        session.close()
