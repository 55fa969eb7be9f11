"""Prove an export serves what the checkpoint computes.

The SavedModel is loaded in a fresh graph with TensorFlow's own loader
(``tf.compat.v1.saved_model.loader.load``, which restores variables and runs
the main op with the copied assets) and every signature runs on deterministic
sample inputs; the checkpoint graph with restored variables runs on the same
inputs. Any difference beyond float noise fails the export, and so does a
SavedModel that answers differently twice in a row (random ops in the graph).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import Cancelled, ExportError

RTOL = 1e-5
ATOL = 1e-5
HINT = ("random ops (dropout, sampling) or an is_training/keep_prob placeholder left in "
        "training mode; bind it with --bind (e.g. --bind keep_prob=1.0) and export again")


@dataclass
class SignatureCheck:
    key: str
    max_difference: float
    outputs: list[str]


@dataclass
class VerifyReport:
    checks: list[SignatureCheck] = field(default_factory=list)
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)  # sig -> key -> array

    @property
    def max_difference(self) -> float:
        return max((c.max_difference for c in self.checks), default=0.0)

    def summary(self) -> str:
        parts = ", ".join(f"{c.key}: max difference {c.max_difference:.3g}" for c in self.checks)
        return f"verified {len(self.checks)} signature(s) against the checkpoint ({parts})"


def vocabulary(assets_dir: Path, limit: int = 64) -> list[str]:
    """The first words of the copied vocabulary files (first tab-separated column)."""
    words: list[str] = []
    if assets_dir.is_dir():
        for path in sorted(assets_dir.iterdir()):
            try:
                with path.open(encoding="utf-8", errors="replace") as handle:
                    for line in handle:
                        word = line.rstrip("\n").split("\t", 1)[0]
                        if word:
                            words.append(word)
                        if len(words) >= limit:
                            return words
            except OSError:
                continue
    return words


def sample_value(dtype: str, shape: list[int] | None, words: list[str], seed: int,
                 batch: int = 2) -> Any:
    """A deterministic array of ``dtype``/``shape`` (``-1`` dims: ``batch`` first, then 3)."""
    import numpy as np

    dims = [batch] if shape is None else [
        (batch if i == 0 else 3) if d < 0 else d for i, d in enumerate(shape)]
    rng = np.random.default_rng(seed)
    count = int(np.prod(dims)) if dims else 1
    if dtype == "string":
        pool = (words[1:] or words) or ["a", "b", "c"]
        flat = [pool[(seed + i) % len(pool)].encode("utf-8") for i in range(count)]
        return np.array(flat, dtype=object).reshape(dims)
    if dtype == "bool":
        return (np.arange(count) % 2 == 0).reshape(dims)
    np_dtype = np.dtype("float32" if dtype == "bfloat16" else dtype)
    if np_dtype.kind in "iu":
        return rng.integers(0, 2, size=dims).astype(np_dtype)  # valid ids, masks, lengths
    if np_dtype.kind == "c":
        return (rng.standard_normal(dims) + 1j * rng.standard_normal(dims)).astype(np_dtype)
    return rng.standard_normal(dims).astype(np_dtype)


def signature_samples(signature_def: Any, words: list[str], batch: int = 2) -> dict[str, Any]:
    """Sample inputs for one SignatureDef, keyed like its inputs."""
    from app.core.tf_runtime import tensorflow

    as_dtype = tensorflow().dtypes.as_dtype
    samples = {}
    for i, (key, info) in enumerate(sorted(signature_def.inputs.items())):
        shape = None if info.tensor_shape.unknown_rank else [d.size for d in info.tensor_shape.dim]
        dtype = as_dtype(info.dtype).name
        samples[key] = sample_value(dtype, shape, words, seed=i + 1, batch=batch)
    return samples


def max_difference(a: Any, b: Any) -> float:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return float("inf")
    if a.dtype.kind in "OSUb" or b.dtype.kind in "OSUb":
        return 0.0 if np.array_equal(a, b) else float("inf")
    if a.size == 0:
        return 0.0
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    if not np.all(np.isfinite(diff)):
        same = np.array_equal(a, b, equal_nan=True)
        return 0.0 if same else float("inf")
    return float(diff.max())


def _close(a: Any, b: Any) -> bool:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "OSUb" or b.dtype.kind in "OSUb":
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True))


@dataclass
class Expected:
    """One signature's sample inputs and what the checkpoint computes for them."""

    samples: dict[str, Any]  # input key -> array
    outputs: dict[str, Any]  # output key -> array


def expected_outputs(signature_defs: dict[str, Any], words: list[str],
                     run: Callable[[list[str], dict[str, Any]], list[Any]]
                     ) -> dict[str, Expected]:
    """Run the checkpoint graph (``run(fetches, feeds)``) on every signature's samples."""
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    expected = {}
    for key, sig in sorted(signature_defs.items()):
        samples = signature_samples(sig, words)
        out_keys = sorted(sig.outputs)
        try:
            values = run([sig.outputs[k].name for k in out_keys],
                         {sig.inputs[k].name: v for k, v in samples.items()})
        except tf.errors.OpError as exc:
            raise ExportError(f"verification: the checkpoint graph fails on sample inputs for "
                              f"signature {key!r} ({exc.message.splitlines()[0]})") from exc
        expected[key] = Expected(samples, dict(zip(out_keys, values, strict=True)))
    return expected


def verify(saved_dir: Path, expected: dict[str, Expected],
           cancelled: Callable[[], bool] | None = None) -> VerifyReport:
    """Load the SavedModel in a fresh graph and compare each signature with ``expected``.

    The checkpoint's outputs are computed first (`expected_outputs`) so its session
    can be closed before the SavedModel is loaded: peak memory holds one model, not two.
    """
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    tf1 = tf.compat.v1
    report = VerifyReport()
    graph = tf.Graph()
    with tf1.Session(graph=graph) as session:
        try:
            meta = tf1.saved_model.loader.load(session, [tf1.saved_model.tag_constants.SERVING],
                                               str(saved_dir))
        except Exception as exc:
            raise ExportError(f"verification: TensorFlow cannot load the export "
                              f"({str(exc).strip().splitlines()[0]})") from exc
        for key, sig in sorted(meta.signature_def.items()):
            if cancelled is not None and cancelled():
                raise Cancelled("export cancelled")
            want = expected[key]
            out_keys = sorted(sig.outputs)
            fetches = [sig.outputs[k].name for k in out_keys]
            feeds = {sig.inputs[k].name: v for k, v in want.samples.items()}
            try:
                got = session.run(fetches, feeds)
                again = session.run(fetches, feeds)
            except tf.errors.OpError as exc:
                raise ExportError(f"verification: signature {key!r} failed on sample inputs "
                                  f"({exc.message.splitlines()[0]})") from exc
            for name, a, b in zip(out_keys, got, again, strict=True):
                if not _close(a, b):
                    raise ExportError(f"verification: signature {key!r} output {name!r} "
                                      f"changes between two runs on the same inputs; {HINT}")
            worst = 0.0
            for name, a in zip(out_keys, got, strict=True):
                b = want.outputs[name]
                diff = max_difference(a, b)
                if not _close(a, b):
                    raise ExportError(
                        f"verification: signature {key!r} output {name!r} differs from the "
                        f"checkpoint by {diff:.3g}; the export does not compute what the "
                        f"checkpoint does; look for {HINT}")
                worst = max(worst, diff)
            report.checks.append(SignatureCheck(key, worst, out_keys))
            report.samples[key] = want.samples
    return report
