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
from tests.test_bad_input_corpus import Case, _digest, _preset_json, _published


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


def _bytes_model(tf, tf1) -> None:
    """y = float(x)·w for a uint8 input (pixels)."""
    x = tf1.placeholder(tf.uint8, [None, 2], name="x")
    w = tf1.get_variable("w", [2], initializer=tf1.ones_initializer())
    tf.identity(tf.cast(x, tf.float32) * w, name="y")


def _complex_output_model(tf, tf1) -> None:
    x = tf1.placeholder(tf.float32, [None, 2], name="x")
    w = tf1.get_variable("w", [2], initializer=tf1.ones_initializer())
    tf.complex(x * w, x, name="y")


def _complex_input_model(tf, tf1) -> None:
    x = tf1.placeholder(tf.complex64, [None, 2], name="x")
    w = tf1.get_variable("w", [2], initializer=tf1.ones_initializer())
    tf.identity(tf.math.real(x) * w, name="y")


def _half_input_model(tf, tf1) -> None:
    x = tf1.placeholder(tf.float16, [None, 2], name="x")
    w = tf1.get_variable("w", [2], dtype=tf.float16, initializer=tf1.ones_initializer())
    tf.identity(tf.cast(x * w, tf.float32), name="y")


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
              "unknown_rank": (_unknown_rank_model, ["--input", "x=x"]),
              "uint8": (_bytes_model, ["--input", "x=x"]),
              "complex_output": (_complex_output_model, ["--input", "x=x"]),
              "complex_input": (_complex_input_model, ["--input", "x=x"]),
              "half_input": (_half_input_model, ["--input", "x=x"])}
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
    from app.core.export.tryit import sample_request
    from app.core.loader import load_checkpoint
    from app.core.signature.draft import Draft, Signature, Slot

    prefix = _checkpoint(tmp_path / "ck", _scaled_rows_model)
    loaded = load_checkpoint(prefix)
    draft = Draft([Signature(inputs=[Slot("x", "x:0"), Slot("s", "s:0")],
                             outputs=[Slot("y", "y:0")])])
    body = json.loads(sample_request(draft, loaded.graph))
    assert isinstance(body["inputs"]["s"], float)


# ------------------------------------------------------------ 3, 11: dtypes REST cannot hold


@pytest.mark.parametrize("name, words", [
    ("complex_output", "cannot answer output 'y' of type complex64"),
    ("complex_input", "cannot take input 'x' of type complex64"),
    ("half_input", "cannot take input 'x' of type half")])
def test_a_dtype_rest_cannot_hold_is_said_and_published_for_grpc(name, words, exports):
    base, printed = exports
    out = printed[name]
    assert f"Published {base / name / '1'}" in out
    assert f"REST :predict body for 'serving_default': none; TF Serving's REST API {words}" \
        in out
    assert "warning: signature 'serving_default'" in out and words in out
    assert "curl" not in out


@pytest.mark.parametrize("name, body, error", [
    ("complex_output", {"instances": [[1.0, 2.0]]},
     "Failed to write JSON value for tensor type: complex64"),
    ("complex_input", {"instances": [[1.0, 2.0]]},
     "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
     "Conversion of JSON Value: 1.0 to type: complex64"),
    ("half_input", {"inputs": [[0.5, 2.0]]}, "Conversion of JSON Value: 0.5 to type: half")])
def test_run_gives_the_servers_refusal_for_those_dtypes(name, body, error, exports, tmp_path,
                                                         capsys):
    base, _ = exports
    assert _answer(capsys, base / name, tmp_path, body) == (2, {"error": error})


def test_the_rest_bodies_are_made_before_publishing(gpu_pinned, tmp_path, monkeypatch,
                                                    capsys):
    from app.core.errors import ExportError
    from app.core.export import engine

    def failing(sig_defs, words):
        raise ExportError("the REST bodies failed")

    monkeypatch.setattr(engine, "_rest_samples", failing)
    case = Case(gpu_pinned, tmp_path)
    code, out, err = _cli(capsys, *case.export())
    _clean_failure(code, out, err, "the REST bodies failed")
    assert not case.base.is_dir() or _published(case.base) == []


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
    from app.core.serving.cc_session import CcSession, to_tensor

    tf = tensorflow()
    session = CcSession(ref_saved_model / "1", ["serve"])
    try:
        for dtype in (tf.resource, tf.variant):
            with pytest.raises(TypeError, match=f"cannot feed a tensor of type {dtype.name}"):
                to_tensor(0, dtype.as_datatype_enum)
        assert session.run(["y:0"], {"v:0": [1.0, 1.0]})[0].tolist() == [2.0, 2.0]
    finally:
        session.close()


# ------------------------------------------------------------ 10: hostile REST bodies


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


_TOO_DEEP = ("nests lists or objects deeper than Signet reads", "tensor parsing error: x")

# name -> (model, body text, the error's words (any of a tuple) or the whole answer)
REST_CASES = {
    "1000-deep nesting": ("unknown_rank", f'{{"inputs": {_nested(1000)}}}', _TOO_DEEP),
    "100000-deep nesting": ("unknown_rank", f'{{"inputs": {_nested(100000)}}}', _TOO_DEEP),
    "100000-deep junk beside the input": (
        "unknown_rank", f'{{"inputs": [1.0], "junk": {_nested(100000)}}}', _TOO_DEEP),
    "300-deep nesting, beyond TensorFlow's 254 dimensions": (
        "unknown_rank", f'{{"inputs": {_nested(300)}}}', "tensor parsing error: x"),
    "rank 70, beyond numpy's 64 dimensions": (
        "unknown_rank", f'{{"inputs": {_nested(70)}}}',
        "input x is nested 70 lists deep: Signet runs tensors of at most 64 dimensions"),
    "rank 64 is answered": ("unknown_rank", f'{{"inputs": {_nested(64)}}}',
                            {"outputs": json.loads(_nested(64).replace("1", "2.0"))}),
    "5000-digit integer": (
        "unknown_rank", '{"inputs": [' + "9" * 5000 + "]}",
        "JSON Parse error: Number too big to be stored in double. at offset: 12"),
    "exponent beyond a double": (
        "unknown_rank", '{"inputs": [1e400]}',
        "JSON Parse error: Number too big to be stored in double. at offset: 12"),
    "integer beyond 64 bits is a double": ("unknown_rank", '{"inputs": [18446744073709551616]}',
                                           {"outputs": [3.68934881e+19]}),
    "float beyond float32 is inf": ("unknown_rank", '{"inputs": [1e39]}',
                                    {"outputs": [float("inf")]}),
    "lone high surrogate": (
        "unknown_rank", '{"signature_name": "a\\ud800", "inputs": [1.0]}',
        "JSON Parse error: The surrogate pair in string is invalid. at offset: 21"),
    "lone low surrogate": (
        "unknown_rank", '{"inputs": [1.0], "signature_name": "\\udc00"}',
        "JSON Parse error: The surrogate pair in string is invalid."),
    "two high surrogates": (
        "unknown_rank", '{"signature_name": "\\ud83d\\ud83d", "inputs": [1.0]}',
        "JSON Parse error: The surrogate pair in string is invalid."),
    "a surrogate pair is text": (
        "unknown_rank", '{"signature_name": "\\ud83d\\ude00", "inputs": [1.0]}',
        'Serving signature name: "\U0001f600" not found in signature def'),
    "an escaped backslash before u-d800 is no surrogate": (
        "unknown_rank", '{"signature_name": "\\\\ud800", "inputs": [1.0]}',
        'Serving signature name: "\\ud800" not found in signature def'),
    "uint8 300 wraps as the server's cast does": (
        "uint8", '{"instances": [[300, 2]]}', {"predictions": [[44.0, 2.0]]}),
    "uint8 beyond int32 is refused": (
        "uint8", '{"instances": [[4294967296, 2]]}',
        "JSON Value: 4294967296 Type: Number is not of expected type: uint8"),
    "a NUL in a signature name": ("unknown_rank", '{"signature_name": "a\\u0000b", '
                                  '"inputs": [1.0]}', "Serving signature name:"),
    "NaN for an integer": ("uint8", '{"instances": [[NaN, 2]]}',
                           "JSON Value: NaN Type: Number is not of expected type: uint8"),
    "a key given twice: the first counts, as the server's FindMember": (
        "unknown_rank", '{"inputs": [1.0], "inputs": [5.0]}', {"outputs": [2.0]}),
    "a 300-character key": ("unknown_rank", '{"inputs": {"' + "k" * 300 + '": [1.0]}}',
                            "Missing named input: x in 'inputs' object."),
}


@pytest.mark.parametrize("name", list(REST_CASES))
def test_hostile_rest_body(name, exports, tmp_path, capsys):
    base, _ = exports
    model, text, expected = REST_CASES[name]
    code, out, err = _cli(capsys, "run", base / model, "--request", _body(tmp_path, text))
    assert "Traceback" not in out + err and err.strip() == "", err
    answer = json.loads(out)
    if isinstance(expected, dict):
        assert (code, answer) == (0, expected)
        return
    assert code == 2 and list(answer) == ["error"], out
    wanted = expected if isinstance(expected, tuple) else (expected,)
    assert any(words in answer["error"] for words in wanted), answer["error"]
    assert "\n" not in answer["error"]


def test_a_body_that_is_not_utf8(exports, tmp_path, capsys):
    base, _ = exports
    path = tmp_path / "body.json"
    path.write_bytes(b'{"inputs": ["\xff\xfe"]}')
    code, out, err = _cli(capsys, "run", base / "unknown_rank", "--request", path)
    _clean_failure(code, out, err, "give a UTF-8 JSON file")


def test_deep_nesting_with_signature_flag(exports, tmp_path, capsys):
    base, _ = exports
    code, out, err = _cli(capsys, "run", base / "unknown_rank", "--signature", "serving_default",
                          "--request", _body(tmp_path, _nested(100000)))
    assert code == 2 and "Traceback" not in out + err
    assert "deeper than Signet reads" in json.loads(out)["error"]


# ------------------------------------------------------------ 10: hostile presets


def _long_document(depth: int) -> str:
    return '{"format": "signet-preset", "version": 2, "signatures": [], "bind": {"a": ' + \
        "[" * depth + "]" * depth + "}}"


# name -> (preset text, the error line's words); exported without --name, so the
# preset's own export name counts.
PRESET_CASES = {
    "NUL in a tensor name": (
        _preset_json(signatures=[{"key": "serving_default", "inputs": [
            {"key": "x", "tensor": "x\u0000:0"}], "outputs": [{"key": "y", "tensor": "y:0"}]}]),
        "holds a NUL character"),
    "NUL in the model name": (_preset_json(export={"name": "a\u0000b"}), "holds a NUL"),
    "NUL in the base folder": (_preset_json(export={"name": "m", "base": "/tmp/a\u0000"}),
                               "holds a NUL"),
    "NUL in a bound tensor": (_preset_json(bind={"keep\u0000": 1.0}), "holds a NUL"),
    "300-character model name": (_preset_json(export={"name": "n" * 300}),
                                 "plain folder name for the model (at most 255 bytes)"),
    "300-character signature key": (
        _preset_json(signatures=[{"key": "k" * 300, "inputs": [{"key": "x", "tensor": "x:0"}],
                                  "outputs": [{"key": "y", "tensor": "y:0"}]}],
                     export={"name": "m"}),
        "invalid signature key"),
    "100000-deep JSON": ("[" * 100000 + "]" * 100000, "nested thousands deep"),
    "100000-deep bound value": (_long_document(100000), "nested thousands deep"),
    "300-deep bound value": (_long_document(300), "nested more than 256 deep"),
    "5000-digit version": ('{"format": "signet-preset", "version": ' + "9" * 5000 + "}",
                           "a number of 5000 digits"),
    "version beyond a double": ('{"format": "signet-preset", "version": 1e400}',
                                "no valid \"version\""),
    "lone surrogate in a key": (
        _preset_json(signatures=[{"key": "\ud800", "inputs": [], "outputs": []}]),
        "lone UTF-16 surrogate"),
    "a preset that is not UTF-8": ('{"format": "\udcff"}'.encode("utf-8", "surrogateescape"),
                                   "not valid JSON"),
}


@pytest.mark.parametrize("name", list(PRESET_CASES))
def test_hostile_preset(name, gpu_pinned, tmp_path, capsys):
    case = Case(gpu_pinned, tmp_path)
    text, expected = PRESET_CASES[name]
    preset = case.preset(text)
    before = _digest(case.folder)
    code, out, err = _cli(capsys, "export", case.prefix, "--out", case.base, "--preset",
                          preset, "--no-verify")
    _clean_failure(code, out, err, expected)
    assert "\x00" not in err  # quoted, never a raw NUL
    if case.base.is_dir():
        assert _published(case.base) == []
    assert _digest(case.folder) == before


def test_a_300_character_name_on_the_command_line(gpu_pinned, tmp_path, capsys):
    case = Case(gpu_pinned, tmp_path)
    argv = case.export()
    argv[argv.index("--name") + 1] = "n" * 300
    code, out, err = _cli(capsys, *argv)
    _clean_failure(code, out, err, "at most 255 bytes")


def test_verification_compares_both_parts_of_complex_outputs():
    import numpy as np

    from app.core.export.verify import max_difference

    assert max_difference(np.array([1 + 2j], np.complex64), np.array([1 + 3j], np.complex64)) \
        == 1.0


# ------------------------------------------------------------ hostile SavedModels for `run`


def _signature(meta) -> object:
    return meta.signature_def["serving_default"]


def _set(side: str, key: str, field: str, value):
    return lambda meta: setattr(getattr(_signature(meta), side)[key], field, value)


# name -> (change to the meta graph, the answer's error words, or the whole answer)
SAVED_MODEL_CASES = {
    "an input dtype no type has": (
        _set("inputs", "x", "dtype", 999),
        "Conversion of JSON Value: 1.0 to type: unknown dtype enum (999)"),
    "an input naming an output index the op lacks": (
        _set("inputs", "x", "name", "x:99"),
        "The name 'x:99' refers to a Tensor which does not exist."),
    "an empty input name": (_set("inputs", "x", "name", ""), "refers to a Tensor which does"),
    "an output naming no tensor": (
        _set("outputs", "y", "name", "nope:0"),
        "The name 'nope:0' refers to a Tensor which does not exist."),
    "an input naming a resource handle": (
        _set("inputs", "x", "name", "w:0"), "cannot feed a tensor of type resource"),
    "a resource input dtype": (_set("inputs", "x", "dtype", 20),
                               "Conversion of JSON Value: 1.0 to type: resource"),
    "an input fetched too": (_set("inputs", "x", "name", "y:0"),
                             "y:0 is both fed and fetched."),
    "no inputs": (lambda meta: _signature(meta).inputs.clear(),
                  "Failed to get input map for signature: DEFAULT"),
    "no signatures": (lambda meta: meta.signature_def.clear(),
                      'Serving signature name: "serving_default" not found in signature def'),
    "an output dtype no type has": (_set("outputs", "y", "dtype", 999),
                                    {"outputs": [2.0, 4.0]}),
}


@pytest.mark.parametrize("name", list(SAVED_MODEL_CASES))
def test_hostile_saved_model(name, exports, tmp_path, capsys):
    import shutil

    from tensorflow.core.protobuf import saved_model_pb2

    base, _ = exports
    folder = tmp_path / "m" / "1"
    shutil.copytree(base / "unknown_rank" / "1", folder)
    pb = folder / "saved_model.pb"
    saved = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    change, expected = SAVED_MODEL_CASES[name]
    change(saved.meta_graphs[0])
    pb.write_bytes(saved.SerializeToString())
    code, answer = _answer(capsys, folder, tmp_path, {"inputs": [1.0, 2.0]})
    if isinstance(expected, dict):
        assert (code, answer) == (0, expected)
    else:
        assert code == 2 and expected in answer["error"], answer


@pytest.mark.parametrize("damage, words", [
    (lambda pb: pb.write_bytes(pb.read_bytes()[:100]), "TensorFlow cannot load this SavedModel"),
    (lambda pb: pb.write_bytes(b""), "TensorFlow cannot load this SavedModel")])
def test_a_damaged_saved_model_pb(damage, words, exports, tmp_path, capsys):
    import shutil

    base, _ = exports
    folder = tmp_path / "m" / "1"
    shutil.copytree(base / "unknown_rank" / "1", folder)
    damage(folder / "saved_model.pb")
    code, out, err = _cli(capsys, "run", folder, "--request",
                          _body(tmp_path, {"inputs": [1.0]}))
    _clean_failure(code, out, err, words)


def test_a_scalar_input_through_run_on_a_checkpoint(exports, tmp_path, capsys):
    base, _ = exports
    prefix = next((base.parent / "ckpt" / "scalar").glob("*.index")).with_suffix("")
    code, out, err = _cli(capsys, "run", prefix, "--input", "s=s", "--output", "y=y",
                          "--request", _body(tmp_path, {"inputs": {"s": 1.5}}))
    assert code == 0, err
    assert json.loads(out) == {"outputs": 3.0}


@pytest.mark.parametrize("value", ["[" * 3000 + "1" + "]" * 3000, "1" + "0" * 5000])
def test_a_hostile_bind_value(value, gpu_pinned, tmp_path, capsys):
    case = Case(gpu_pinned, tmp_path)
    code, out, err = _cli(capsys, *case.export("--bind", f"keep={value}"))
    _clean_failure(code, out, err, "no tensor holds a number of thousands of digits")
    assert not case.base.is_dir() or _published(case.base) == []


def test_a_scalar_count_is_sampled_as_1(tmp_path, capsys):
    """top-k's k as a scalar input: the sample (and so verification) asks for one value."""
    def top_k_model(tf, tf1) -> None:
        x = tf1.placeholder(tf.float32, [None, 5], name="x")
        k = tf1.placeholder(tf.int32, [], name="k")
        w = tf1.get_variable("w", [5], initializer=tf1.ones_initializer())
        tf.identity(tf.nn.top_k(x * w, k=k).values, name="y")

    prefix = _checkpoint(tmp_path / "ck", top_k_model)
    out = _export(prefix, tmp_path / "models", "topk", "--input", "x=x", "--input", "k=k",
                  "--output", "y=y")
    body = _printed_body(out)
    assert body["inputs"]["k"] == 1 and len(body["inputs"]["x"][0]) == 5
    code, answer = _answer(capsys, tmp_path / "models" / "topk", tmp_path,
                           {"inputs": {"x": [[1.0, 5.0, 3.0, 2.0, 4.0]], "k": 2}})
    assert (code, answer) == (0, {"outputs": [[5.0, 4.0]]})
