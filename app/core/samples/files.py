"""A samples file (``--samples FILE``) read into `Samples`, checked against the signatures.

Three formats, told apart by content, never only by name:

- a TF Serving REST ``:predict`` body (``{"instances": …}`` rows or ``{"inputs": …}``
  columns, ``{"b64": …}`` bytes), read by `app.core.serving.rest.parse_predict_body`, the very
  parser `signet run` answers requests with; what Try It's "Save as samples…" writes;
- an ``.npz`` (``numpy.savez``) with one array per input key;
- a TFRecord of serialized ``tf.Example``: a string input that parses them gets the
  records themselves; an input a ``parse_example`` feature feeds gets that feature's
  values, one row per record.

Inputs a file leaves out get synthetic values at verification. A key no signature has,
examples of unequal counts, or a value of the wrong type is an error naming the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from app.core.samples import InputSpec, Samples, SamplesError, SignatureInputs

MAX_FILE_BYTES = 256 << 20  # a few batches of examples, never a data set


def read_samples(path: str | Path, inputs: SignatureInputs) -> Samples:
    """The file's examples for ``inputs`` (see module doc); `SamplesError` if unusable."""
    source = Path(path)
    try:
        size = source.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SamplesError(f"{source}: {size >> 20} MiB is too big for samples; give a "
                               "few examples (TF Serving replays at most 1000 warmup records)")
        head = source.read_bytes()[:64]
    except FileNotFoundError as exc:
        raise SamplesError(f"{source}: no such samples file") from exc
    except IsADirectoryError as exc:
        raise SamplesError(f"{source}: is a folder; give a samples file (a REST predict "
                           "body, an .npz or a TFRecord of tf.Example)") from exc
    except OSError as exc:
        raise SamplesError(f"{source}: cannot read the samples ({exc.strerror})") from exc
    if head.lstrip()[:1] == b"{":
        batch = _rest(source, inputs)
        kind = "REST predict body"
    elif zipfile.is_zipfile(source):
        batch = _npz(source, inputs)
        kind = ".npz"
    else:
        batch = _examples(source, inputs)
        kind = "TFRecord of tf.Example"
    count = _count(source, batch)
    return Samples([batch], f"{source.name} ({kind}, {count} example(s))")


def _count(source: Path, batch: dict[str, Any]) -> int:
    if not batch:
        raise SamplesError(f"{source}: holds no values for any signature input")
    sizes = {k: (v.shape[0] if v.ndim else 1) for k, v in batch.items()}
    if len(set(sizes.values())) > 1:
        said = ", ".join(f"{k}: {n}" for k, n in sorted(sizes.items()))
        raise SamplesError(f"{source}: its inputs hold different numbers of examples "
                           f"({said}); give each input one row per example")
    count = next(iter(sizes.values()))
    if count == 0:
        raise SamplesError(f"{source}: holds no examples")
    return count


def _rest(source: Path, inputs: SignatureInputs) -> dict[str, Any]:
    from app.core.serving.rest import RestError, parse_predict_body

    dtypes = {key: {k: s.dtype for k, s in specs.items()}
              for key, specs in inputs.specs.items()}
    try:
        request = parse_predict_body(source.read_text(encoding="utf-8", errors="replace"),
                                     dtypes)
    except RestError as exc:
        raise SamplesError(f"{source}: TensorFlow Serving would refuse this predict body: "
                           f"{exc}") from exc
    return request.inputs


def _npz(source: Path, inputs: SignatureInputs) -> dict[str, Any]:
    import numpy as np

    try:
        with np.load(source, allow_pickle=False) as data:
            arrays = dict(data)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SamplesError(f"{source}: not a readable .npz ({exc})") from exc
    known = inputs.all_keys()
    unknown = sorted(set(arrays) - known)
    if unknown:
        raise SamplesError(f"{source}: no signature has input(s) {', '.join(unknown)}; "
                           f"key the arrays by input: {', '.join(sorted(known))}")
    out = {}
    for key, value in arrays.items():
        spec = inputs.spec(key)
        assert spec is not None
        out[key] = _as_dtype(source, key, value, spec)
    return out


def _as_dtype(source: Path, key: str, value: Any, spec: InputSpec) -> Any:
    """``value`` as the input's dtype: text as bytes objects, numbers cast when exact."""
    import numpy as np

    if spec.dtype == "string":
        if value.dtype.kind not in "USO":
            raise SamplesError(f"{source}: input {key!r} takes strings, the file holds "
                               f"{value.dtype}")
        flat = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in value.ravel()]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(value.shape)
    want = np.dtype("float32" if spec.dtype == "bfloat16" else spec.dtype)
    if value.dtype.kind in "USO" or (value.dtype.kind == "f" and want.kind in "iub"):
        raise SamplesError(f"{source}: input {key!r} takes {spec.dtype}, the file holds "
                           f"{value.dtype}")
    return value.astype(want)


def _examples(source: Path, inputs: SignatureInputs) -> dict[str, Any]:
    """A TFRecord of tf.Example: serialized records, or each parsed feature's values."""
    import numpy as np
    from google.protobuf.message import DecodeError
    from tensorflow.core.example import example_pb2

    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    try:
        raws = list(tf.compat.v1.io.tf_record_iterator(str(source)))
        examples = [example_pb2.Example.FromString(raw) for raw in raws]
    except (tf.errors.OpError, DecodeError) as exc:
        raise SamplesError(f"{source}: not a REST predict body, an .npz or a TFRecord of "
                           "tf.Example; give one of those") from exc
    out: dict[str, Any] = {}
    for key in sorted(inputs.all_keys()):
        spec = inputs.spec(key)
        assert spec is not None
        feature = spec.feature or key
        if all(feature in e.features.feature for e in examples):
            rows = _padded([_feature_values(e.features.feature[feature]) for e in examples])
            shape = (len(rows), *[d if d is not None else -1 for d in (spec.shape or ())[1:]])
            try:
                array = _rows_array(rows).reshape(shape if spec.shape else (len(rows), -1))
            except ValueError as exc:
                raise SamplesError(f"{source}: feature {feature!r} does not fit input "
                                   f"{key!r} of shape {list(spec.shape or [])}") from exc
            out[key] = _as_dtype(source, key, array, spec)
        elif spec.dtype == "string" and spec.shape is not None and len(spec.shape) == 1:
            records = np.empty(len(raws), dtype=object)
            records[:] = raws
            out[key] = records
    return out


def _rows_array(rows: list[list[Any]]) -> Any:
    """Equal-length rows as one array; bytes as objects (numpy's ``S`` drops trailing
    NUL bytes, which binary features may end with)."""
    import numpy as np

    if any(isinstance(v, bytes) for r in rows for v in r):
        out = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
        for i, row in enumerate(rows):
            out[i, :] = row
        return out
    return np.array(rows)


def _padded(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows of unequal length padded at the end, as ``sparse_to_dense`` pads a
    ``VarLenFeature`` (zeros, or empty strings)."""
    width = max((len(r) for r in rows), default=0)
    if all(len(r) == width for r in rows):
        return rows
    pad = b"" if any(isinstance(v, bytes) for r in rows for v in r) else 0
    return [r + [pad] * (width - len(r)) for r in rows]


def _feature_values(feature: Any) -> list[Any]:
    kind = feature.WhichOneof("kind")
    return list(getattr(feature, kind).value) if kind else []
