"""TensorFlow Serving's REST predict JSON, both ways, with its rules and its error words.

Follows ``tensorflow_serving/util/json_tensor.cc`` (``FillPredictRequestFromJson``,
``MakeJsonFromTensors``, ``MakeJsonFromStatus``) and the signature lookup of
``http_rest_api_handler.cc`` so that `signet run` and the printed curl body behave
as the server does: the same accepted bodies, the same messages for bad ones, the
same answer text (rapidjson's pretty writer, 4-space indent, rows on one line,
floats in their shortest round-tripping form).

- ``parse_predict_body(text, signatures) -> PredictRequest`` where ``signatures``
  maps a signature key to its inputs ``{key: dtype name}``; raises `RestError`.
- ``predict_response(outputs, columnar) -> str`` (``{"predictions": …}`` or
  ``{"outputs": …}``); ``error_response(message) -> str`` (``{"error": …}``).
- ``request_body(key, samples, row_ok)``: a body the server accepts (``{"b64": …}``
  for bytes that are not text or whose key ends in ``_bytes``).
- ``json_refusal(side, key, dtype) -> str | None``: why the server cannot convert a
  signature input or output of ``dtype`` to or from JSON (`JSON_DTYPES`), or None.

Plain Python and numpy: importing it does not import TensorFlow.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from app.core.errors import SignetError

DEFAULT_SIGNATURE = "serving_default"
BYTES_SUFFIX = "_bytes"
# The dtypes the server's JSON holds (AddValueToTensor, AddSingleValueAndAdvance): a
# signature input or output of any other (half, bfloat16, complex, uint16, quantized…)
# is refused over REST both ways ("Conversion of JSON Value … to type: half", "Failed to
# write JSON value for tensor type: complex64"); gRPC clients send and get them.
JSON_DTYPES = frozenset({"float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                         "uint32", "uint64", "bool", "string"})
_DEBUG_LIMIT = 256  # kMaxJsonDebugStringBytes
# TensorFlow's TensorShape holds at most 254 dimensions (a deeper tensor is "tensor parsing
# error" on the server); numpy, which holds the request here, at most 64.
SERVER_MAX_RANK = 254
MAX_RANK = 64
# An escaped UTF-16 surrogate (``\ud800``); an escape only after an even run of backslashes.
_SURROGATE = re.compile(r"\\u([dD][89a-fA-F][0-9a-fA-F]{2})")
# A number literal Python and rapidjson may read differently: 19 digits or more, or a
# three-digit exponent. Bodies without one (nearly all) are read at full speed.
_LONG_NUMBER = re.compile(r"\d{19}|[eE][+-]?\d{3}")
_INT_RANGES = {"int32": (-2**31, 2**31 - 1), "int16": (-2**31, 2**31 - 1),
               "int8": (-2**31, 2**31 - 1), "uint8": (-2**31, 2**31 - 1),
               "int64": (-2**63, 2**63 - 1), "uint32": (0, 2**32 - 1),
               "uint64": (0, 2**64 - 1)}


class RestError(SignetError):
    """A request TensorFlow Serving refuses; ``str()`` is the server's message."""


class _TooBig(Exception):
    """A JSON number rapidjson cannot store (beyond a double's range)."""

    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


@dataclass
class PredictRequest:
    signature: str
    inputs: dict[str, Any]  # input key -> numpy array
    columnar: bool  # the "inputs" format (answered with "outputs")


# ------------------------------------------------------------ JSON -> tensors


class _Full(Exception):
    """`_debug` has its 256 characters."""


def _debug(value: Any) -> str:
    """rapidjson's single-line rendering of a value, cut at 256 bytes like the server.

    Only the first 256 characters are rendered: a megabyte ``instances`` list or a body
    nested thousands deep costs no more than a small one (each level writes a bracket,
    so the walk never goes deeper than the limit).
    """
    parts: list[str] = []
    size = 0

    def put(text: str) -> None:
        nonlocal size
        parts.append(text)
        size += len(text)
        if size >= _DEBUG_LIMIT:
            raise _Full

    def walk(item: Any) -> None:
        if isinstance(item, list):
            put("[")
            for i, sub in enumerate(item):
                put("," if i else "")
                walk(sub)
            put("]")
        elif isinstance(item, dict):
            put("{")
            for i, (key, sub) in enumerate(item.items()):
                put(("," if i else "") + json.dumps(key, ensure_ascii=False) + ":")
                walk(sub)
            put("}")
        else:
            put(json.dumps(item, ensure_ascii=False))

    with contextlib.suppress(_Full):
        walk(value)
    return "".join(parts)[:_DEBUG_LIMIT]


def _json_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def _type_error(value: Any, dtype: str) -> RestError:
    return RestError(f"JSON Value: {_debug(value)} Type: {_json_type(value)} is not of "
                     f"expected type: {_dtype_string(dtype)}")


def _dtype_string(dtype: str) -> str:
    """TensorFlow's DataTypeString: ``float``, ``int64``, ``string``… (``float_ref``)."""
    base, ref, _ = dtype.partition("_ref")
    return {"float32": "float", "float64": "double", "float16": "half"}.get(base, base) + ref


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _scalar(value: Any, dtype: str) -> Any:
    """AddValueToTensor: one JSON leaf as a value of ``dtype``."""
    if isinstance(value, dict):
        if dtype != "string":
            raise _type_error(value, dtype)
        if not _is_b64(value):
            raise RestError(f"JSON Value: {_debug(value)} not formatted correctly for "
                            "base64 data")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RestError("Unable to base64 decode") from exc
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if dtype in ("float32", "float64"):
        if not is_number:
            raise _type_error(value, dtype)
        return float(value)
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            raise _type_error(value, dtype)
        return value
    if dtype == "string":
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8")
    if dtype == "bool":
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    raise RestError(f"Conversion of JSON Value: {_debug(value)} to type: "
                    f"{_dtype_string(dtype)}")


def _dense_shape(value: Any) -> list[int]:
    """GetDenseTensorShape: sizes along the first element of every level."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value: Any, level: int, shape: list[int], dtype: str, out: list[Any]) -> None:
    """FillTensorProto: every leaf at depth ``len(shape)``, every list of its level's size."""
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise RestError(f"JSON Value: {_debug(value)} found at incorrect level: "
                            f"{level + 1} in the JSON DOM. Expected at level: {rank}")
        out.append(_scalar(value, dtype))
        return
    if level >= rank:
        raise RestError(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise RestError(f"Encountered list at unexpected size: {len(value)} at level: "
                        f"{level} expected size: {shape[level]}")
    for item in value:
        _fill(item, level + 1, shape, dtype, out)


def _tensor(value: Any, dtype: str, name: str) -> tuple[list[int], list[Any]]:
    shape = _dense_shape(value)
    if len(shape) > SERVER_MAX_RANK:
        raise RestError(f"tensor parsing error: {name}")
    if len(shape) > MAX_RANK:
        raise RestError(f"input {name} is nested {len(shape)} lists deep: Signet runs tensors "
                        f"of at most {MAX_RANK} dimensions (TF Serving {SERVER_MAX_RANK})")
    flat: list[Any] = []
    _fill(value, 0, shape, dtype, flat)
    return shape, flat


def _array(shape: list[int], flat: list[Any], dtype: str) -> Any:
    import numpy as np

    if dtype == "string":
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    if dtype in ("int8", "int16", "uint8"):
        # The server puts these in a TensorProto's int_val (any int32) and casts each to
        # the dtype: 300 arrives in a uint8 tensor as 44.
        return np.array(flat, dtype=np.int64).astype(dtype).reshape(shape)
    with np.errstate(over="ignore"):  # 1e39 in a float tensor is inf, as GetFloat() makes it
        return np.array(flat, dtype=dtype).reshape(shape)


def _shape_text(shape: list[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _from_instances(instances: list[Any], infos: dict[str, str]) -> dict[str, Any]:
    """FillTensorMapFromInstancesList."""
    def is_object(v: Any) -> bool:
        return isinstance(v, dict) and not _is_b64(v)

    if not isinstance(instances[0], dict) and len(infos) > 1:
        raise RestError("instances is a plain list, but expecting list of objects as multiple "
                        "input tensors required as per tensorinfo_map")
    objects = is_object(instances[0])
    names = sorted(infos)
    shapes: dict[str, list[int]] = {}
    sizes: dict[str, int] = {}
    values: dict[str, list[Any]] = {}

    def add(item: Any, name: str) -> None:
        if name not in infos:
            raise RestError(f"JSON object: does not have named input: {name}")
        shape, flat = _tensor(item, infos[name], name)
        if name not in sizes:
            sizes[name], shapes[name] = len(flat), shape
        elif sizes[name] != len(flat):
            raise RestError(f"Expecting tensor size: {sizes[name]} but got: {len(flat)}")
        elif shapes[name] != shape:
            raise RestError(f"Expecting shape {_shape_text(shapes[name])} but got: "
                            f"{_shape_text(shape)}")
        values.setdefault(name, []).extend(flat)

    for count, element in enumerate(instances):
        if objects:
            if not is_object(element):
                raise RestError(f"Expecting object but got list at item {count} of input list")
            for name, item in element.items():
                try:
                    add(item, name)
                except RestError as exc:
                    raise RestError(f"Failed to process element: {count} key: {name} of "
                                    f"'instances' list. Error: INVALID_ARGUMENT: {exc}") \
                        from exc
            if set(element) != set(names):
                raise RestError(f"Failed to process element: {count} of 'instances' list. "
                                f"JSON object: {_debug(element)} keys must be equal to: "
                                + ",".join(names))
        else:
            if is_object(element):
                raise RestError(f"Expecting value/list but got object at item {count} of "
                                "input list")
            try:
                add(element, names[0])
            except RestError as exc:
                raise RestError(f"Failed to process element: {count} of 'instances' list. "
                                f"Error: INVALID_ARGUMENT: {exc}") from exc
    return {name: _array([len(instances), *shapes[name]], values[name], infos[name])
            for name in values}


def _from_inputs(value: Any, infos: dict[str, str]) -> dict[str, Any]:
    """FillTensorMapFromInputsMap."""
    if not isinstance(value, dict) or _is_b64(value):
        if len(infos) > 1:
            raise RestError("inputs is a plain value/list, but expecting an object as multiple "
                            "input tensors required as per tensorinfo_map")
        (name,) = infos
        shape, flat = _tensor(value, infos[name], name)
        return {name: _array(shape, flat, infos[name])}
    result = {}
    for name in sorted(infos):
        if name not in value:
            raise RestError(f"Missing named input: {name} in 'inputs' object.")
        shape, flat = _tensor(value[name], infos[name], name)
        result[name] = _array(shape, flat, infos[name])
    return result


def parse_predict_body(text: str | bytes, signatures: dict[str, dict[str, str]]
                       ) -> PredictRequest:
    """A REST ``:predict`` body as input arrays for one signature (see module doc)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text.strip():
        raise RestError("JSON Parse error: The document is empty")
    doc = _parse(text)
    if not isinstance(doc, dict):
        raise RestError(f"JSON Value: {_debug(doc)} Is not object")
    key = doc.get("signature_name", "")
    if not isinstance(key, str):
        raise RestError(f"JSON Value: {_debug(doc)} not formatted correctly. 'signature_name' "
                        "key must be a string value.")
    signame = key or DEFAULT_SIGNATURE
    if signame not in signatures:
        raise RestError(f'Serving signature name: "{signame}" not found in signature def')
    infos = signatures[signame]
    if not infos:
        raise RestError(f"Failed to get input map for signature: {key or 'DEFAULT'}")
    if "instances" in doc:
        if "inputs" in doc:
            raise RestError(f"JSON Value: {_debug(doc)} Not formatted correctly expecting "
                            "only one of 'inputs' or 'instances' keys to exist ")
        instances = doc["instances"]
        if not isinstance(instances, list):
            raise RestError(f"JSON Value: {_debug(doc)} Expecting 'instances' to be an "
                            "list/array")
        if not instances:
            raise RestError(f"JSON Value: {_debug(doc)} No values in 'instances' array")
        return PredictRequest(signame, _from_instances(instances, infos), columnar=False)
    if "inputs" in doc:
        inputs = _from_inputs(doc["inputs"], infos)
        _check_inputs_size(inputs, infos)
        return PredictRequest(signame, inputs, columnar=True)
    raise RestError("Missing 'inputs' or 'instances' key")


def _parse(text: str) -> Any:
    """The JSON document as rapidjson reads it (``kParseNanAndInfFlag``), or its error.

    Python's reader differs where the server's does not: a number beyond a double's
    range is rapidjson's "Number too big" error (Python made it an int of any size, or
    inf), an integer beyond 64 bits a double; an escaped lone surrogate is an "invalid
    surrogate" error (Python kept it, and encoding it later failed); nesting deeper
    than Python's recursion limit is one line here too. Of a key given twice the server
    finds the first (``FindMember``), Python would keep the last.
    """
    _check_surrogates(text)
    hooks = {"parse_int": _integer, "parse_float": _double} if _LONG_NUMBER.search(text) \
        else {}
    try:
        return json.loads(text, object_pairs_hook=_first_wins, **hooks)
    except json.JSONDecodeError as exc:
        raise RestError(f"JSON Parse error: {exc.msg} at offset: {exc.pos}") from exc
    except _TooBig as exc:
        raise RestError("JSON Parse error: Number too big to be stored in double. at offset: "
                        f"{max(text.find(exc.literal), 0)}") from exc
    except RecursionError as exc:
        raise RestError("JSON Parse error: the body nests lists or objects deeper than Signet "
                        f"reads; a tensor has at most {SERVER_MAX_RANK} dimensions") from exc


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        found.setdefault(key, value)
    return found


def _integer(literal: str) -> int | float:
    """rapidjson's integer: 64 bits (signed or not), else a double."""
    if len(literal) < 19:
        return int(literal)
    if len(literal) > 21:  # beyond 64 bits whatever its digits
        return _double(literal)
    value = int(literal)
    return value if -2**63 <= value < 2**64 else _double(literal)


def _double(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise _TooBig(literal)
    return value


def _check_surrogates(text: str) -> None:
    """Refuse an escaped UTF-16 surrogate that is not half of a pair, as rapidjson does."""
    pending = None  # the end of a high surrogate waiting for its low half
    for match in _SURROGATE.finditer(text):
        start = match.start()
        run = 0  # backslashes before this one
        while run < start and text[start - run - 1] == "\\":
            run += 1
        if run % 2:
            continue  # an escaped backslash, then the letters "ud800"
        low = match.group(1)[1].lower() in "cdef"
        if low and pending == start:
            pending = None
            continue
        if pending is not None or low:
            where = pending - 6 if pending is not None else start
            raise RestError("JSON Parse error: The surrogate pair in string is invalid. at "
                            f"offset: {where}")
        pending = match.end()
    if pending is not None:
        raise RestError(f"JSON Parse error: The surrogate pair in string is invalid. at "
                        f"offset: {pending - 6}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a caller's text with a raw lone surrogate
        raise RestError("JSON Parse error: Invalid encoding in string. at offset: "
                        f"{exc.start}") from exc


def _check_inputs_size(inputs: dict[str, Any], infos: dict[str, str]) -> None:
    """predict_util.cc VerifyRequestInputsSize (a signature without defaults)."""
    if len(inputs) == len(infos):
        return
    sent, want = sorted(inputs), sorted(infos)
    extra = sorted(set(sent) - set(want))
    missing = sorted(set(want) - set(sent))
    raise RestError(f"input size does not match signature: {len(sent)}!={len(want)} "
                    f"len({{{','.join(sent)}}}) != len({{{','.join(want)}}}). Sent extra: "
                    f"{{{','.join(extra)}}}. Missing but required: {{{','.join(missing)}}}.")


def json_refusal(side: str, key: str, dtype: str) -> str | None:
    """Why TF Serving's REST API cannot take (``side`` "inputs") or answer ("outputs")
    tensor ``key`` of ``dtype``, or None when it can."""
    if dtype in JSON_DTYPES:
        return None
    what = "take input" if side == "inputs" else "answer output"
    return (f"TF Serving's REST API cannot {what} {key!r} of type {_dtype_string(dtype)} "
            "(its JSON holds float, double, int8–int64, uint8, uint32, uint64, bool and "
            "string tensors); call this signature over gRPC")


# ------------------------------------------------------------ tensors -> JSON


def decimal(value: float, double: bool) -> str:
    """WriteDecimal: shortest %g form that round-trips, '.0' on whole numbers."""
    import numpy as np

    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = f"{value:g}"
    same = float(text) == value if double else np.float32(float(text)) == np.float32(value)
    if not same:
        text = f"{value:.{17 if double else 9}g}"
    if "." not in text and "e" not in text:
        text += ".0"
    return text


class _PrettyWriter:
    """rapidjson::PrettyWriter (4 spaces) with kFormatSingleLineArray switched per call."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.levels: list[list[Any]] = []  # [in_array, value_count]
        self.single_line = False

    def _indent(self) -> None:
        self.parts.append("    " * len(self.levels))

    def _prefix(self) -> None:
        if not self.levels:
            return
        level = self.levels[-1]
        if level[0]:
            if level[1] > 0:
                self.parts.append(", " if self.single_line else ",")
            if not self.single_line:
                self.parts.append("\n")
                self._indent()
        else:
            if level[1] > 0:
                self.parts.append(",\n" if level[1] % 2 == 0 else ": ")
            else:
                self.parts.append("\n")
            if level[1] % 2 == 0:
                self._indent()
        level[1] += 1

    def raw(self, text: str) -> None:
        self._prefix()
        self.parts.append(text)

    def start(self, array: bool) -> None:
        self._prefix()
        self.levels.append([array, 0])
        self.parts.append("[" if array else "{")

    def end(self, array: bool) -> None:
        empty = self.levels.pop()[1] == 0
        if not empty and not (array and self.single_line):
            self.parts.append("\n")
            self._indent()
        self.parts.append("]" if array else "}")

    def text(self) -> str:
        return "".join(self.parts)


def _leaf(writer: _PrettyWriter, value: Any, kind: str, as_bytes: bool, double: bool) -> None:
    """AddSingleValueAndAdvance: one value; bytes as ``{"b64": …}`` for ``_bytes`` names."""
    if kind == "f":
        writer.raw(decimal(float(value), double))
    elif kind == "b":
        writer.raw("true" if value else "false")
    elif kind in "OSU":
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
        if as_bytes:
            writer.start(array=False)
            writer.raw('"b64"')
            writer.raw(json.dumps(base64.b64encode(raw).decode("ascii")))
            writer.end(array=False)
        else:
            writer.raw(json.dumps(raw.decode("utf-8", "replace"), ensure_ascii=False))
    else:
        writer.raw(str(int(value)))


def _write_values(writer: _PrettyWriter, array: Any, name: str) -> None:
    """AddTensorValues: nested lists for ``array`` (a scalar stays bare)."""
    import numpy as np

    array = np.asarray(array)
    kind = array.dtype.kind
    if kind == "c":
        raise RestError(f"Failed to write JSON value for tensor type: "
                        f"{_dtype_string(array.dtype.name)}")
    as_bytes = kind in "OSU" and name.endswith(BYTES_SUFFIX)
    double = array.dtype.itemsize == 8

    def walk(sub: Any, d: int) -> None:
        if d >= array.ndim:
            _leaf(writer, sub.item() if isinstance(sub, np.ndarray) else sub, kind, as_bytes,
                  double)
            return
        writer.start(array=True)
        for item in sub:
            walk(item, d + 1)
        writer.end(array=True)

    walk(array, 0)


def predict_response(outputs: dict[str, Any], columnar: bool) -> str:
    """The server's answer text for ``outputs`` (alias -> array), row or columnar format."""
    import numpy as np

    if not outputs:
        raise RestError("Cannot convert empty tensor map to JSON")
    arrays = {k: np.asarray(v) for k, v in sorted(outputs.items())}
    writer = _PrettyWriter()
    writer.start(array=False)
    many = len(arrays) > 1
    if columnar:
        writer.raw('"outputs"')
        if many:
            writer.start(array=False)
        for name, array in arrays.items():
            if many:
                writer.raw(json.dumps(name))
            _write_values(writer, array, name)
        if many:
            writer.end(array=False)
        writer.end(array=False)
        return writer.text()
    batch = -1
    for name, array in arrays.items():
        if array.ndim == 0:
            raise RestError(f"Tensor name: {name} has no shape information ")
        if batch >= 0 and array.shape[0] != batch:
            raise RestError(f"Tensor name: {name} has inconsistent batch size: "
                            f"{array.shape[0]} expecting: {batch}")
        batch = array.shape[0]
    writer.raw('"predictions"')
    writer.start(array=True)
    for item in range(batch):
        if many:
            writer.start(array=False)
        writer.single_line = True
        for name, array in arrays.items():
            if many:
                writer.raw(json.dumps(name))
            _write_values(writer, array[item], name)
        writer.single_line = False
        if many:
            writer.end(array=False)
    writer.end(array=True)
    writer.end(array=False)
    return writer.text()


def error_response(message: str) -> str:
    """MakeJsonFromStatus: ``{ "error": message }`` as the server writes it."""
    return "{\n    \"error\": " + json.dumps(message, ensure_ascii=False) + "\n}"


# ------------------------------------------------------------ request bodies


def _json_value(array: Any, key: str) -> Any:
    """An array as JSON lists; bytes that are not text (or a ``_bytes`` key) as b64."""
    import numpy as np

    array = np.asarray(array)
    if array.dtype.kind not in "OS":
        return array.tolist()
    as_b64 = key.endswith(BYTES_SUFFIX)

    def one(item: Any) -> Any:
        raw = item if isinstance(item, bytes) else str(item).encode("utf-8")
        if not as_b64:
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return {"b64": base64.b64encode(raw).decode("ascii")}

    def walk(sub: Any) -> Any:
        return [walk(x) for x in sub] if isinstance(sub, np.ndarray) and sub.ndim else \
            one(sub.item() if isinstance(sub, np.ndarray) else sub)

    return walk(array)


def request_body(signature_key: str, samples: dict[str, Any], row_ok: bool) -> dict[str, Any]:
    """A ``:predict`` body for ``samples``: rows when ``row_ok`` and the inputs share a batch."""
    import numpy as np

    arrays = {k: np.asarray(v) for k, v in sorted(samples.items())}
    batch = {a.shape[0] if a.ndim else None for a in arrays.values()}
    if row_ok and arrays and len(batch) == 1 and None not in batch:
        (rows,) = batch
        instances = [{k: _json_value(a[i], k) for k, a in arrays.items()} for i in range(rows)]
        if len(arrays) == 1:
            (key,) = arrays
            instances = [row[key] for row in instances]
        return {"signature_name": signature_key, "instances": instances}
    return {"signature_name": signature_key,
            "inputs": {k: _json_value(a, k) for k, a in arrays.items()}}
