"""TensorFlow Serving's warmup file: written into every export and replayed before publishing.

TF Serving reads ``VERSION/assets.extra/tf_serving_warmup_requests`` (a TFRecord of
``tensorflow.serving.PredictionLog``) when it loads a version and runs every record
before serving it, so the first real request is not the slow one. When one record
fails, the server refuses the whole version; so Signet replays the file on the
staged SavedModel first, and a failing record fails the export (nothing published).

Records: for every signature, a request at batch 1 and one at `SMALL_BATCH`, built
from the verification's sample inputs: ``predict_log`` for predict signatures,
``classify_log``/``regress_log`` (``tf.Example`` inputs) for classify/regress ones.
With real examples (`app.core.samples`: ``--samples FILE`` or batches drawn from the
training pipeline), the records replay them instead, as TF Serving users warm up with
recorded requests: each batch whole, then each of its examples alone, up to
`MAX_RECORDS`. A model that takes only its training batch size gets records of that
size only.

- ``write_warmup(saved_dir, signature_defs, words, model_name) -> Path``
- ``replay_warmup(saved_dir, cancelled=None, model=None, runs=None) -> int`` (records
  replayed; `ExportError`); the export passes the model verification loaded.

`tensorflow_serving.apis` imports all of TensorFlow: it is imported inside the
functions, which only the export and `signet run` reach.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.errors import Cancelled, ExportError, error_line
from app.core.export.shared_runs import SharedRuns
from app.core.export.verify import BATCH, SampleSet

WARMUP_FOLDER = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
MAX_RECORDS = 1000  # TF Serving reads at most this many warmup records
# One more than verification's batch: the replay then tries a batch size verification
# has not (it runs BATCH examples and each alone), as a server will meet many.
SMALL_BATCH = BATCH + 1
CLASSIFY, REGRESS = "tensorflow/serving/classify", "tensorflow/serving/regress"


def warmup_path(saved_dir: Path) -> Path:
    return saved_dir / WARMUP_FOLDER / WARMUP_FILE


def _examples(samples: dict[str, Any]) -> list[Any]:
    """The sample ``inputs`` as tf.Example protos; empty Examples when they are not ones.

    Verification feeds a classify/regress signature whatever strings its graph
    takes; TF Serving's Classify/Regress APIs only send serialized Examples, so
    a sample that is not one becomes an empty Example (every feature at its default).
    """
    from google.protobuf.message import DecodeError
    from tensorflow.core.example import example_pb2

    raws = [bytes(raw) for value in samples.values() for raw in value.ravel()]
    try:
        return [example_pb2.Example.FromString(raw) for raw in raws]
    except DecodeError:
        return [example_pb2.Example() for _ in raws]


def _record(key: str, method: str, samples: dict[str, Any], model_name: str) -> Any:
    from tensorflow_serving.apis import (
        classification_pb2,
        input_pb2,
        predict_pb2,
        prediction_log_pb2,
        regression_pb2,
    )

    from app.core.tf_runtime import tensorflow

    make_proto = tensorflow().make_tensor_proto
    log = prediction_log_pb2.PredictionLog()
    if method in (CLASSIFY, REGRESS):
        request_type = classification_pb2.ClassificationRequest if method == CLASSIFY else \
            regression_pb2.RegressionRequest
        request = request_type(input=input_pb2.Input(
            example_list=input_pb2.ExampleList(examples=_examples(samples))))
        target = log.classify_log if method == CLASSIFY else log.regress_log
    else:
        request = predict_pb2.PredictRequest()
        for name, value in samples.items():
            request.inputs[name].CopyFrom(make_proto(value))
        target = log.predict_log
    request.model_spec.name = model_name
    request.model_spec.signature_name = key
    target.request.CopyFrom(request)
    return log


def write_warmup(saved_dir: Path, signature_defs: dict[str, Any], words: list[str],
                 model_name: str, feeding: SampleSet | None = None) -> Path:
    """Write the warmup file for ``signature_defs`` into ``saved_dir``; return its path."""
    from app.core.tf_runtime import tensorflow

    path = warmup_path(saved_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [_record(key, sig.method_name, batch, model_name)
               for key, sig in sorted(signature_defs.items())
               for batch in _batches(key, sig, words, feeding or SampleSet())]
    with tensorflow().io.TFRecordWriter(str(path)) as writer:
        for log in records[:MAX_RECORDS]:
            writer.write(log.SerializeToString())
    return path


def _batches(key: str, sig: Any, words: list[str], feeding: SampleSet) -> list[dict[str, Any]]:
    """The inputs of one signature's records (see module doc), synthetic where no real
    example gives an input."""
    from app.core.export.verify import signature_samples

    fixed = feeding.fixed.get(key)
    given = feeding.given.for_signature(set(sig.inputs)) if feeding.given is not None else []
    if not given:
        return [signature_samples(sig, words, size) for size in
                ((fixed,) if fixed else (1, SMALL_BATCH))]
    out = []
    for batch in given:
        rows = min((len(v) for v in batch.values() if v.ndim), default=1)
        sizes = [fixed] if fixed else [rows] + [1] * rows
        for i, size in enumerate(sizes):
            start = 0 if fixed or i == 0 else i - 1
            picked = [(start + j) % rows for j in range(size)]
            made = signature_samples(sig, words, size)
            made.update({k: v if v.ndim == 0 else v[picked] for k, v in batch.items()})
            out.append(made)
            if len(out) >= MAX_RECORDS:
                return out
    return out


def read_warmup(path: Path) -> list[Any]:
    """Every PredictionLog in a warmup file, parsed with TF Serving's message class."""
    from tensorflow_serving.apis import prediction_log_pb2

    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    try:
        raws = list(tf.compat.v1.io.tf_record_iterator(str(path)))
    except tf.errors.OpError as exc:
        raise ExportError(f"{path}: not a TFRecord file ({error_line(exc)})") \
            from exc
    return [prediction_log_pb2.PredictionLog.FromString(raw) for raw in raws]


def record_inputs(log: Any) -> tuple[str, str, dict[str, Any]]:
    """(kind, signature key, input arrays) of one PredictionLog, as TF Serving feeds them."""
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        request = log.predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    elif kind in ("classify_log", "regress_log"):
        import numpy as np

        request = getattr(log, kind).request
        examples = [e.SerializeToString() for e in request.input.example_list.examples]
        inputs = {"inputs": np.array(examples, dtype=object)}
    else:
        raise ExportError(f"warmup record of kind {kind!r}: Signet writes only predict, "
                          "classify and regress records")
    return kind, request.model_spec.signature_name or "serving_default", inputs


def replay_warmup(saved_dir: Path, cancelled: Callable[[], bool] | None = None,
                  model: Any = None, runs: SharedRuns | None = None) -> int:
    """Run every record of ``saved_dir``'s warmup file through the loaded SavedModel.

    ``model``: the export already loaded (a `ServingModel`), so it is not loaded
    again; ``runs``: the runs verification did on it, which answer the records
    with the very same feeds (see `shared_runs`).
    """
    from app.core.serving.serving_model import ServingModel

    logs = read_warmup(warmup_path(saved_dir))
    if model is not None:
        return _replay(logs, model, runs, cancelled)
    with ServingModel(saved_dir) as own:
        return _replay(logs, own, None, cancelled)


def _replay(logs: list[Any], model: Any, runs: SharedRuns | None,
            cancelled: Callable[[], bool] | None) -> int:
    from app.core.serving.rest import RestError

    for number, log in enumerate(logs, 1):
        if cancelled is not None and cancelled():
            raise Cancelled("export cancelled; nothing was published")
        kind, key, inputs = record_inputs(log)
        sig = model.signatures.get(key)
        if runs is not None and sig is not None and set(inputs) == set(sig.inputs):
            fetches = [sig.outputs[a].name for a in sorted(sig.outputs)]
            feeds = {sig.inputs[k].name: v for k, v in inputs.items()}
            if runs.answered(fetches, feeds) is not None:
                continue
        try:
            model.run(key, inputs)
        except RestError as exc:
            raise ExportError(
                f"warmup: record {number} of {len(logs)} ({kind}, signature {key!r}) "
                f"fails: {error_line(exc)}; TensorFlow Serving would refuse this "
                "version, so nothing was published") from exc
    return len(logs)


def add_warmup(saved_dir: Path, signature_defs: dict[str, Any], model_name: str,
               cancelled: Callable[[], bool] | None = None, model: Any = None,
               runs: SharedRuns | None = None, feeding: SampleSet | None = None) -> int:
    """Write the warmup file into the staged export and replay it; records replayed.

    ``model`` and ``runs``: as `replay_warmup` (the export loaded once for all checks);
    ``feeding``: the real examples and fixed batch sizes verification used.
    """
    from app.core.export.verify import vocabulary

    write_warmup(saved_dir, signature_defs, vocabulary(saved_dir / "assets"), model_name,
                 feeding)
    return replay_warmup(saved_dir, cancelled, model, runs)
