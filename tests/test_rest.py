"""TF Serving's REST JSON rules (tensorflow_serving/util/json_tensor.cc): bodies, answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.core.serving.rest import (
    RestError,
    decimal,
    error_response,
    parse_predict_body,
    predict_response,
    request_body,
)

SIGS = {"serving_default": {"images": "float32"},
        "pair": {"ids": "int64", "mask": "int8"},
        "text": {"image_bytes": "string"}}


def _parse(body) -> object:
    return parse_predict_body(json.dumps(body) if not isinstance(body, str) else body, SIGS)


def test_row_format_stacks_instances_and_defaults_to_serving_default():
    req = _parse({"instances": [[1.0, 2.0], [3.0, 4.0], [5, 6]]})
    assert req.signature == "serving_default" and not req.columnar
    np.testing.assert_array_equal(req.inputs["images"], [[1, 2], [3, 4], [5, 6]])
    assert req.inputs["images"].dtype == np.float32


def test_named_instances_and_columnar_inputs_give_the_same_tensors():
    rows = _parse({"signature_name": "pair",
                   "instances": [{"ids": [1, 2], "mask": [1, 0]}, {"ids": [3, 4], "mask": [1, 1]}]})
    cols = _parse({"signature_name": "pair",
                   "inputs": {"ids": [[1, 2], [3, 4]], "mask": [[1, 0], [1, 1]]}})
    assert cols.columnar and not rows.columnar
    for key in ("ids", "mask"):
        np.testing.assert_array_equal(rows.inputs[key], cols.inputs[key])
    assert rows.inputs["ids"].dtype == np.int64 and rows.inputs["mask"].dtype == np.int8


def test_b64_objects_decode_to_bytes_in_both_formats():
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    b64 = {"b64": "iVBORw0KGgoA/w=="}
    assert _parse({"signature_name": "text", "instances": [b64]}).inputs["image_bytes"][0] == png
    assert _parse({"signature_name": "text", "inputs": b64}).inputs["image_bytes"] == png


@pytest.mark.parametrize("body, words", [
    ({"signature_name": "nope", "instances": [[1.0]]},
     'Serving signature name: "nope" not found in signature def'),
    ({"signature_name": "pair", "instances": [{"ids": [1]}]},
     "Failed to process element: 0 of 'instances' list. JSON object: {\"ids\":[1]} keys "
     "must be equal to: ids,mask"),
    ({"signature_name": "pair", "inputs": {"ids": [[1]]}},
     "Missing named input: mask in 'inputs' object."),
    ({"signature_name": "pair", "instances": [[1, 2]]},
     "instances is a plain list, but expecting list of objects as multiple input tensors "
     "required as per tensorinfo_map"),
    ({"signature_name": "text", "instances": [{"b64": "not base64!"}]},
     "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: Unable to "
     "base64 decode"),
    ({"signature_name": "text", "inputs": [{"b64": "aGk=", "extra": 1}]},
     'JSON Value: {"b64":"aGk=","extra":1} not formatted correctly for base64 data'),
    ({"instances": [[1.0, 2.0], [3.0]]},
     "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting "
     "tensor size: 2 but got: 1"),
    ({"instances": [["a"]]},
     "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: "
     "\"a\" Type: String is not of expected type: float"),
    ({"inputs": [[1.0], 2.0]},
     "JSON Value: 2.0 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
    ({"instances": [[1.0]], "inputs": [[1.0]]},
     "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist"),
    ({"instances": []}, "No values in 'instances' array"),
    ({"signature_name": "pair"}, "Missing 'inputs' or 'instances' key"),
    ("", "JSON Parse error: The document is empty"),
    ("[1]", "JSON Value: [1] Is not object"),
])
def test_bad_bodies_get_tf_servings_words(body, words):
    with pytest.raises(RestError) as caught:
        _parse(body)
    assert words in str(caught.value)


def test_types_json_cannot_carry_are_refused_in_the_servers_words():
    with pytest.raises(RestError, match=r"Conversion of JSON Value: 1\.5 to type: half"):
        parse_predict_body('{"inputs": [1.5]}', {"serving_default": {"x": "float16"}})


def test_row_answers_need_a_shared_batch_dimension():
    with pytest.raises(RestError, match="Tensor name: y has inconsistent batch size: 2 "
                                        "expecting: 3"):
        predict_response({"weights": np.zeros((3, 2)), "y": np.zeros((2, 2))}, columnar=False)
    with pytest.raises(RestError, match="Tensor name: total has no shape information"):
        predict_response({"total": np.float32(1.5)}, columnar=False)
    text = predict_response({"total": np.float32(1.5), "y": np.zeros((2, 1), "f4")},
                            columnar=True)
    assert json.loads(text) == {"outputs": {"total": 1.5, "y": [[0.0], [0.0]]}}


def test_answers_are_written_as_tf_serving_writes_them():
    ints = np.array([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]], np.int32)
    # The layout of json_tensor_test.cc FromJsonSingleTensor (rapidjson's pretty writer).
    assert predict_response({"int_tensor": ints}, columnar=False) == (
        '{\n    "predictions": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]\n    ]\n}')
    many = predict_response({"a": np.array([1, 2], np.int64),
                             "s_bytes": np.array([b"hi", b"\xff"], object)}, columnar=False)
    assert many == ('{\n    "predictions": [\n        {\n            "a": 1,\n'
                    '            "s_bytes": {\n                "b64": "aGk="\n            }\n'
                    '        },\n        {\n            "a": 2,\n            "s_bytes": {\n'
                    '                "b64": "/w=="\n            }\n        }\n    ]\n}')
    assert json.loads(error_response('x "y"')) == {"error": 'x "y"'}


@pytest.mark.parametrize("value, text", [
    (9000000.0, "9e+06"), (999999.0, "999999.0"), (0.5, "0.5"), (0.0003, "0.0003"),
    (0.00003, "3e-05"), (555557.5, "555557.5"), (3.0, "3.0"), (float("nan"), "NaN"),
    (float("-inf"), "-Infinity"), (0.1, "0.1"),
])
def test_floats_use_tf_servings_six_digit_form(value, text):
    assert decimal(float(np.float32(value)), double=False) == text


def test_float32_that_needs_more_digits_keeps_them():
    value = float(np.float32(0.123456789))
    assert np.float32(float(decimal(value, double=False))) == np.float32(value)
    assert len(decimal(value, double=False)) > 8


def test_request_bodies_round_trip_through_the_parser():
    samples = {"ids": np.array([[1, 2]], np.int64), "mask": np.array([[1, 0]], np.int8)}
    body = request_body("pair", samples, row_ok=True)
    assert "instances" in body
    parsed = _parse(body)
    np.testing.assert_array_equal(parsed.inputs["ids"], samples["ids"])
    body = request_body("pair", samples, row_ok=False)
    assert "inputs" in body and _parse(body).columnar
    raw = np.array([b"\x89PNG\xff"], object)
    body = request_body("text", {"image_bytes": raw}, row_ok=True)
    assert body["instances"] == [{"b64": "iVBOR/8="}]
    assert _parse(body).inputs["image_bytes"][0] == raw[0]
