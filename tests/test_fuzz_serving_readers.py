"""REST bodies, answers and presets from Hypothesis: only Signet's own error escapes.

The REST parser may raise `RestError` (the server's one-line refusal) and nothing
else; what it accepts is arrays of the signature's dtypes. The preset reader may
raise `PresetError` and nothing else; what it accepts saves and reads back the same.
"""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.core.errors import PresetError
from app.core.serving.rest import RestError, parse_predict_body, predict_response
from app.core.signature.preset import from_json, load_preset, save_preset, to_json

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
DTYPES = ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint32",
          "uint64", "bool", "string", "float16", "complex64", "float32_ref"]

scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8),
    st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.fixed_dictionaries({"b64": st.text("QUJD=*", max_size=8)}))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text("xyzb64", max_size=3), inner,
                                                 max_size=3)), max_leaves=24)
signatures = st.dictionaries(
    st.sampled_from(["serving_default", "other", ""]),
    st.dictionaries(st.sampled_from(["x", "y", "x_bytes"]), st.sampled_from(DTYPES),
                    max_size=3), min_size=1, max_size=2)


def _body(doc: dict) -> str:
    return json.dumps(doc, allow_nan=True)


# Text the JSON encoder never writes but a hostile client does.
hostile_pieces = st.sampled_from([
    "[" * 2000, "]" * 2000, "{" * 3000, '"\\ud800"', '"\\udc00"', '"\\ud83d\\ude00"',
    '"\\\\ud800"', "9" * 5000, "1e400", "-1e400", "18446744073709551616", "NaN",
    "-Infinity", '"\\u0000"', "\x00", "\ud800", ",", ":", '"', "\\", "1", "[1]"])


def _check_parse(text: str, sigs: dict) -> None:
    try:
        request = parse_predict_body(text, sigs)
    except RestError as exc:
        assert "\n" not in str(exc)
        return
    infos = sigs[request.signature]
    for name, array in request.inputs.items():
        want = infos[name]
        assert array.dtype == (np.dtype(object) if want == "string" else np.dtype(want))


@SETTINGS
@given(doc=st.fixed_dictionaries(
    {}, optional={"signature_name": st.one_of(st.sampled_from(["serving_default", "other"]),
                                              json_values),
                  "instances": json_values, "inputs": json_values}),
    sigs=signatures)
def test_rest_bodies_of_any_shape(doc, sigs):
    _check_parse(_body(doc), sigs)


@SETTINGS
@given(doc=st.fixed_dictionaries({"inputs": json_values}), sigs=signatures,
       pieces=st.lists(st.tuples(st.floats(0, 1), hostile_pieces), max_size=4))
def test_rest_bodies_with_hostile_text_spliced_in(doc, sigs, pieces):
    text = _body(doc)
    for where, piece in pieces:
        cut = int(where * len(text))
        text = text[:cut] + piece + text[cut:]
    _check_parse(text, sigs)


@SETTINGS
@given(data=st.binary(max_size=512), sigs=signatures)
def test_rest_bodies_of_random_bytes(data, sigs):
    _check_parse(data, sigs)


@SETTINGS
@given(depth=st.integers(0, 5000), sigs=signatures,
       leaf=st.sampled_from(["1", "1.5", '"a"', "true", "null", "{}", "[]"]))
def test_rest_bodies_nested_to_any_depth(depth, sigs, leaf):
    _check_parse('{"inputs": ' + "[" * depth + leaf + "]" * depth + "}", sigs)
    _check_parse('{"instances": [' + "[" * depth + leaf + "]" * depth + "]}", sigs)


answer_arrays = st.one_of(
    hnp.arrays(st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.uint8,
                                np.bool_, np.complex64, np.float16]),
               hnp.array_shapes(min_dims=0, max_dims=4, max_side=3)),
    hnp.arrays(object, hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
               elements=st.binary(max_size=6)))


@SETTINGS
@given(outputs=st.dictionaries(st.sampled_from(["y", "z_bytes", "w"]), answer_arrays,
                               max_size=3),
       columnar=st.booleans())
def test_answers_of_any_array(outputs, columnar):
    try:
        text = predict_response(outputs, columnar)
    except RestError as exc:
        assert "\n" not in str(exc)
        return
    json.loads(text)  # the server's text is JSON (NaN and Infinity as rapidjson writes them)


# ------------------------------------------------------------ presets

preset_texts = st.text(max_size=12)
slots = st.lists(st.fixed_dictionaries({"key": preset_texts, "tensor": preset_texts},
                                       optional={"dtype": json_values, "shape": json_values}),
                 max_size=2)
preset_docs = st.fixed_dictionaries(
    {"format": st.sampled_from(["signet-preset", "other"]),
     "version": st.one_of(st.sampled_from([1, 2, 3]), json_values)},
    optional={"signatures": st.one_of(st.lists(st.fixed_dictionaries(
        {}, optional={"key": json_values, "method": json_values, "inputs": slots,
                      "outputs": slots}), max_size=2), json_values),
              "bind": st.one_of(st.dictionaries(preset_texts, json_values, max_size=2),
                                json_values),
              "rewrites": json_values, "keep": json_values,
              "export": st.one_of(st.fixed_dictionaries({}, optional={
                  "name": json_values, "base": preset_texts, "verify": json_values,
                  "strip_training": st.booleans(), "warmup": st.booleans()}), json_values)})


def _read(tmp_path, raw: bytes) -> None:
    path = tmp_path / "preset.json"
    path.write_bytes(raw)
    try:
        draft = load_preset(path)
    except PresetError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    again = tmp_path / "again.json"
    save_preset(draft, again)
    assert to_json(load_preset(again)) == to_json(draft)


@SETTINGS
@given(doc=preset_docs)
def test_presets_of_any_shape(doc, tmp_path):
    _read(tmp_path, json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass"))


@SETTINGS
@given(doc=preset_docs, pieces=st.lists(st.tuples(st.floats(0, 1), hostile_pieces),
                                        max_size=4))
def test_presets_with_hostile_text_spliced_in(doc, pieces, tmp_path):
    text = json.dumps(doc, allow_nan=True)
    for where, piece in pieces:
        cut = int(where * len(text))
        text = text[:cut] + piece + text[cut:]
    _read(tmp_path, text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(data=st.binary(max_size=512))
def test_presets_of_random_bytes(data, tmp_path):
    _read(tmp_path, data)


@SETTINGS
@given(doc=json_values)
def test_from_json_of_any_value(doc):
    try:
        from_json(doc, "preset.json")
    except PresetError as exc:
        assert "\n" not in str(exc)
