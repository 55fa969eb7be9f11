"""Try a REST request before deploying: the window's Try-it panel, without Qt.

The draft is exported (no verification, no warmup) into a scratch folder and loaded
as TF Serving loads a version, so the answer is the one the export would serve;
this works the same for a checkpoint and for an opened SavedModel. The loaded model
is kept until the draft changes.

- ``sample_request(draft, graph, key=None) -> str``: the pre-filled body (JSON text).
- ``load_input(path, dtype, shape, scaling) -> array``: ``.npy``/``.npz``, an image for
  an ``[N,H,W,C]`` input (resized to H×W, scaled by ``SCALINGS``), a text file (one
  string per line) for a string input.
- ``body_from_arrays(key, arrays, row_ok)``; ``draft_shapes(draft, graph, key)``;
  ``top_k(values, k, labels)``, ``why_no_top_k(values)``; ``read_labels(path)``.
- ``TryRunner().respond(loaded, draft, body) -> Answer`` (in a worker thread),
  ``.close()``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import SignetError
from app.core.graph.opgraph import OpGraph
from app.core.serving.rest import request_body
from app.core.signature.draft import Draft, tensor_name
from app.core.validation.serving_checks import row_format_offenders

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# How image pixels (0..255) become the input's values.
SCALINGS = {"0..1": (1 / 255.0, 0.0), "-1..1": (2 / 255.0, -1.0), "0..255": (1.0, 0.0)}


def draft_shapes(draft: Draft, graph: OpGraph, key: str) -> dict[str, Any]:
    """``{"inputs:key"/"outputs:key": shape}`` of signature ``key`` (for the row rule)."""
    sig = draft.signature(key)
    shapes: dict[str, Any] = {}
    if sig is None:
        return shapes
    for side in ("inputs", "outputs"):
        for slot in sig.slots(side):
            t = graph.tensor(tensor_name(slot.tensor))
            shapes[f"{side}:{slot.key}"] = t.shape if t is not None else None
    return shapes


def sample_request(draft: Draft, graph: OpGraph, key: str | None = None) -> str:
    """A body for signature ``key`` (the first by default) with one sample example."""
    from app.core.export.verify import sample_value

    if not draft.signatures:
        return "{}"
    key = key or draft.signatures[0].key
    sig = draft.signature(key)
    samples = {}
    for i, slot in enumerate(sig.inputs if sig is not None else []):
        t = graph.tensor(tensor_name(slot.tensor))
        if t is None:
            continue
        shape = None if t.shape is None else [-1 if d is None else d for d in t.shape]
        samples[slot.key] = sample_value(t.dtype, shape, [], seed=i + 1, batch=1)
    row_ok = not row_format_offenders(draft_shapes(draft, graph, key))
    return json.dumps(request_body(key, samples, row_ok), indent=2)


def body_from_arrays(key: str, arrays: dict[str, Any], row_ok: bool) -> str:
    return json.dumps(request_body(key, arrays, row_ok), indent=2)


def load_input(path: str | Path, dtype: str, shape: tuple | None, scaling: str = "0..1"
               ) -> Any:
    """One input's array from a file (see module doc); `SignetError` names what is wrong."""
    import numpy as np

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                return arrays[arrays.files[0]]
        if suffix in IMAGE_SUFFIXES:
            return _image(path, dtype, shape, scaling)
        if dtype == "string":
            lines = path.read_text(encoding="utf-8").splitlines()
            return np.array([line.encode("utf-8") for line in lines if line], dtype=object)
    except (OSError, ValueError) as exc:
        raise SignetError(f"{path}: cannot read it ({exc})") from exc
    raise SignetError(f"{path}: use a .npy or .npz array, an image "
                      f"({', '.join(IMAGE_SUFFIXES)}) for an [N,H,W,C] input, or a text file "
                      "for a string input")


def _image(path: Path, dtype: str, shape: tuple | None, scaling: str) -> Any:
    from app.core.tf_runtime import tensorflow

    if shape is None or len(shape) != 4:
        raise SignetError(f"{path}: an image fits an [N,H,W,C] input; this one is "
                          f"{'of unknown rank' if shape is None else list(shape)}")
    tf = tensorflow()
    height, width, channels = shape[1], shape[2], shape[3]
    try:
        image = tf.io.decode_image(path.read_bytes(), channels=channels or 0,
                                   expand_animations=False)
    except tf.errors.OpError as exc:
        raise SignetError(f"{path}: not an image TensorFlow can decode") from exc
    if height is not None and width is not None:
        image = tf.image.resize(image, [height, width])
    scale, offset = SCALINGS[scaling]
    pixels = tf.cast(image, tf.float32).numpy() * scale + offset
    return pixels[None].astype("float32" if dtype == "bfloat16" else dtype)


def read_labels(path: str | Path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def top_k(values: Any, k: int = 5, labels: list[str] | None = None
          ) -> list[tuple[int, float, str]]:
    """(index, score, label) of the ``k`` largest entries of a probability vector.

    Empty when ``values`` is not one (`why_no_top_k` says why).
    """
    import numpy as np

    if why_no_top_k(values) is not None:
        return []
    array = np.asarray(values)
    array = array[0] if array.ndim == 2 else array
    order = np.argsort(-array, kind="stable")[:k]
    return [(int(i), float(array[i]), labels[i] if labels and i < len(labels) else "")
            for i in order]


def why_no_top_k(values: Any) -> str | None:
    """Why ``values`` has no top-k, in words for the Try-it panel; None when it is a
    probability vector (1-D float, or one row of them, entries in [0, 1] adding up to 1).

    A batch is the usual surprise: the body sent several instances, and a ranking of
    classes is about one example.
    """
    import numpy as np

    array = np.asarray(values)
    shape = "[" + ", ".join(map(str, array.shape)) + "]"
    if array.dtype.kind != "f":
        return f"{array.dtype} values, not probabilities"
    if array.ndim == 2 and array.shape[0] != 1:
        return (f"a batch of {array.shape[0]} examples ({shape}): top-k ranks the classes of "
                "one example, so send one instance")
    if array.ndim == 2:
        array = array[0]
    if array.ndim != 1 or array.size < 2:
        return f"shape {shape} is not a vector of class scores"
    if array.min() < 0 or array.max() > 1 or abs(float(array.sum()) - 1.0) > 1e-3:
        return "the values are not probabilities (outside 0..1 or not adding up to 1: " \
            "logits? the softmax output ranks)"
    return None


@dataclass
class Answer:
    text: str
    ok: bool
    outputs: dict[str, Any] = field(default_factory=dict)


class TryRunner:
    """One scratch export of the current draft, loaded; replaced when the draft changes."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._model: Any = None
        self._folder: Path | None = None

    def respond(self, loaded: Any, draft: Draft, body: str, progress: Any = None,
                cancelled: Any = None) -> Answer:
        from app.core.serving.serving_model import ServingModel, respond
        from app.core.signature.preset import to_json

        plain = draft.copy()
        plain.options.base = plain.options.name = ""
        key = json.dumps([str(loaded.files.prefix), to_json(plain)], sort_keys=True,
                         default=str)
        if key != self._key:
            self.close()
            self._folder = Path(tempfile.mkdtemp(prefix="signet-try-"))
            from app.core.export import export_model

            scratch = draft.copy()
            opts = scratch.options
            opts.base, opts.name, opts.version = str(self._folder), "draft", None
            opts.verify = opts.warmup = opts.overwrite = False
            result = export_model(scratch, loaded, progress=progress, cancelled=cancelled)
            self._model = ServingModel(result.path)
            self._key = key
        text, ok, outputs = respond(self._model, body)
        return Answer(text, ok, outputs)

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        self._model = self._folder = self._key = None
