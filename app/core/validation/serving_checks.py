"""Will TensorFlow Serving's REST API take and answer this signature? Warnings with fixes.

Rules from ``tensorflow_serving/util/json_tensor.cc``:
- The row format (``"instances"``) stacks each instance into a batch and answers
  ``"predictions"`` row by row, so every input and output must share the first
  dimension; otherwise the server answers "has inconsistent batch size" (or "has
  no shape information" for a scalar). The columnar format (``"inputs"``, answered
  with ``"outputs"``) has no such rule.
- Its JSON holds float, double, int, uint8/32/64, bool and string tensors only
  (`rest.JSON_DTYPES`): a half, bfloat16 or complex input or output is refused.
- JSON strings are text: binary string inputs must be sent as ``{"b64": …}``, and
  the server writes a string output as ``{"b64": …}`` only when its key ends in
  ``_bytes`` (a convention TF Serving borrowed from Cloud ML Engine).

- ``request_problems(draft, graph) -> list[Problem]`` (warnings; called by `validate`),
  the fixed training batch size (`app.core.samples.fixed_batch`) among them
- ``row_format_offenders(shapes) -> {key: why}``: shapes are ``{key: Shape}`` for a
  signature's inputs and outputs (``None`` = unknown rank, ``None`` dims = any size).

Plain Python: importing it does not import TensorFlow.
"""

from __future__ import annotations

from collections import Counter

from app.core.graph.opgraph import OpGraph, Shape
from app.core.samples.fixed_batch import fixed_batch
from app.core.serving.rest import BYTES_SUFFIX, json_refusal
from app.core.signature.draft import Draft, Level, Problem, Signature, tensor_name

# Ops whose string input is binary data (images, audio, serialized protos).
BINARY_READERS = {
    "DecodeJpeg", "DecodePng", "DecodeImage", "DecodeAndCropJpeg", "DecodeBmp", "DecodeGif",
    "DecodeRaw", "DecodePaddedRaw", "DecodeWav", "DecodeCompressed", "ParseExample",
    "ParseExampleV2", "ParseSingleExample", "ParseSequenceExample", "ParseSequenceExampleV2",
    "ParseSingleSequenceExample", "ParseTensor", "DecodeProtoV2", "ExtractJpegShape",
}
# Ops whose string output is binary data.
BINARY_WRITERS = {
    "EncodeJpeg", "EncodeJpegVariableQuality", "EncodePng", "EncodeWav", "EncodeProto",
    "SerializeTensor", "SerializeSparse", "SerializeManySparse",
}
_PASS_THROUGH = {"Identity", "Reshape", "Squeeze", "ExpandDims", "StopGradient", "Snapshot"}
_ROW_FIX = ("TF Serving's row format (\"instances\") needs every input and output to share "
            "the first (batch) dimension and answers \"has inconsistent batch size\"; send "
            "the columnar format instead: {\"signature_name\": \"%s\", \"inputs\": "
            "{\"<input>\": <whole tensor>, …}}, answered with {\"outputs\": …}")


def row_format_offenders(shapes: dict[str, Shape]) -> dict[str, str]:
    """Keys whose tensor cannot share a batch dimension with the others, and why."""
    firsts = {k: s[0] for k, s in shapes.items() if s is not None and len(s) > 0}
    offenders = {k: "is a scalar (no first dimension)" for k, s in shapes.items()
                 if s is not None and len(s) == 0}
    fixed = {k: d for k, d in firsts.items() if d is not None}
    if len(fixed) < len(firsts):  # some tensors carry a batch dimension of any size
        offenders.update({k: f"has a fixed first dimension of {d} where the others take "
                             "any batch size" for k, d in fixed.items()})
    elif len(set(fixed.values())) > 1:
        common = Counter(fixed.values()).most_common(1)[0][0]
        offenders.update({k: f"has a first dimension of {d}, the others {common}"
                          for k, d in fixed.items() if d != common})
    return dict(sorted(offenders.items()))


def _readers(graph: OpGraph, name: str) -> list[str]:
    """Op types reading tensor ``name``, looking through pass-through ops."""
    found: list[str] = []
    stack, seen = [name], set()
    while stack:
        tensor = stack.pop()
        op = graph.ops.get(tensor.rpartition(":")[0])
        if op is None:
            continue
        for consumer_name in op.consumers:
            consumer = graph.ops.get(consumer_name)
            if consumer is None or consumer_name in seen or tensor not in consumer.inputs:
                continue
            seen.add(consumer_name)
            if consumer.type in _PASS_THROUGH:
                stack.append(f"{consumer_name}:0")
            else:
                found.append(f"{consumer.type} ({consumer_name})")
    return found


def _writer(graph: OpGraph, name: str) -> str | None:
    """The binary-writing op behind tensor ``name`` (through pass-through ops), if any."""
    for _ in range(32):
        op = graph.ops.get(name.rpartition(":")[0])
        if op is None:
            return None
        if op.type in BINARY_WRITERS:
            return f"{op.type} ({op.name})"
        if op.type not in _PASS_THROUGH or not op.inputs:
            return None
        name = op.inputs[0]
    return None


def _signature_problems(draft: Draft, index: int, sig: Signature,
                        graph: OpGraph) -> list[Problem]:
    problems: list[Problem] = []
    shapes: dict[str, Shape] = {}
    slots = {}
    for side in ("inputs", "outputs"):
        for j, slot in enumerate(sig.slots(side)):
            t = graph.tensor(tensor_name(slot.tensor))
            if t is None:
                return []  # validate already reports the missing tensor
            shapes[f"{side}:{slot.key}"] = t.shape
            slots[f"{side}:{slot.key}"] = (side, slot, j, t)
    for where, why in row_format_offenders(shapes).items():
        side, slot, j, t = slots[where]
        problems.append(Problem(Level.WARNING, f"{t.name} {why}; " + _ROW_FIX % sig.key,
                                sig.key, side, slot.key, index, j))
    for side, slot, j, t in slots.values():
        why = json_refusal(side, slot.key, t.dtype) if t.dtype != "unknown" else None
        if why:
            problems.append(Problem(Level.WARNING, f"{t.name}: {why}", sig.key, side, slot.key,
                                    index, j))
        if t.dtype != "string":
            continue
        if side == "inputs":
            readers = [r for r in _readers(graph, t.name)
                       if r.split(" ", 1)[0] in BINARY_READERS]
            if not readers:
                continue
            message = (f"{t.name} carries binary data (read by {readers[0]}): JSON strings "
                       "are text, so send each value as {\"b64\": \"<base64>\"}")
            if not slot.key.endswith(BYTES_SUFFIX):
                message += (f" and name the input with TF Serving's {BYTES_SUFFIX} suffix "
                            f"(e.g. {slot.key}{BYTES_SUFFIX})")
            problems.append(Problem(Level.WARNING if not slot.key.endswith(BYTES_SUFFIX)
                                    else Level.INFO, message, sig.key, side, slot.key,
                                    index, j))
        elif not slot.key.endswith(BYTES_SUFFIX):
            writer = _writer(graph, t.name)
            if writer:
                problems.append(Problem(
                    Level.WARNING, f"{t.name} is binary data (written by {writer}), but TF "
                    "Serving answers a string output as text unless its key ends in "
                    f"{BYTES_SUFFIX}; rename it to {slot.key}{BYTES_SUFFIX} to get "
                    "{\"b64\": …} in the JSON answer", sig.key, side, slot.key, index, j))
    return problems


def request_problems(draft: Draft, graph: OpGraph) -> list[Problem]:
    """REST request and answer problems of every predict signature in ``draft``."""
    problems: list[Problem] = []
    for i, sig in enumerate(draft.signatures):
        if sig.method == "predict" and sig.outputs:
            problems += _signature_problems(draft, i, sig, graph)
        hit = fixed_batch(sig, graph, set(draft.bound))
        if hit is not None:  # a client sending another batch size gets a shape error
            problems.append(Problem(Level.WARNING, hit.message, sig.key, signature_index=i))
    return problems
