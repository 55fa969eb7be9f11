"""Prove an export serves what the checkpoint computes, for any batch of requests.

The SavedModel is loaded as TensorFlow Serving loads a version: the whole graph
placed (so a graph the server could not place fails here), the variables restored,
the main op run with the copied assets. The session over the graph is created while
the variables are written (`app.core.serving.staged_session`) and finished from the written
folder; when the written graph is not the staged one, or anything fails on the way,
TensorFlow Serving's own C++ loader loads it (`app.core.serving.cc_session`). Every
signature runs on a batch of `BATCH` distinct deterministic examples; the
checkpoint graph with restored variables runs on the same batch. The examples are
real ones when there are (`app.core.samples`: a samples file, or batches drawn from
the training pipeline; cycled up to `BATCH` rows), synthetic for the inputs they leave
out; a model that only takes its training batch size (`app.core.samples.fixed_batch`)
runs at that size only. An export passes only when, for every output:

- it is finite (NaN or Inf fail, naming the output: equal NaNs are no match);
- two identical runs agree (random ops or an input pipeline fail here);
- it equals the checkpoint's answer within float noise;
- it is batch-independent: each example sent alone gets its row of the batch
  answer (TensorFlow Serving answers single requests and batches them freely).

What a "row" is: when every input of the signature has an unknown first
dimension (the batch axis), an output whose first dimension is `BATCH` for the
batch and 1 for each example alone is per-example, and example ``i`` alone must
equal row ``i``. Any other output (a scalar, a fixed shape such as a class list)
is a batch-level value: it must be the same for the batch and for every example
alone, since a server that batches requests cannot split it per request. A
signature with an input of fixed first dimension has no batch axis and is run on
its samples as a whole only.

All the runs after loading use the one loaded session, which the warmup replay
shares (`open_export`, `check_export`, `SharedRuns`); nothing is loaded twice.
Runs are not repeated either: when a signature has a batch axis, every output
of the batch run is compared with the same output of each example sent alone,
so an output that changes from run to run already fails there; only then is the
batch run again, to tell changing outputs from mixed examples. A signature
without a batch axis gets its explicit second run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import Cancelled, ExportError, error_line
from app.core.export.batch_causes import batch_mixing_cause, batch_path
from app.core.export.shared_runs import SharedRuns
from app.core.graph.opgraph import OpGraph
from app.core.signature.checks import path_ops, signature_findings

RTOL = 1e-5
ATOL = 1e-5
BATCH = 8  # examples per verification batch (at least): mixing may start above a few
MAX_GIVEN = 16  # real examples verification runs alone at most (the warmup replays all)
# Ops whose result leaves the finite numbers for inputs outside their domain.
_NAN_PRONE = {"Log", "Log1p", "Sqrt", "Rsqrt", "Reciprocal", "Inv", "Div", "RealDiv",
              "DivNoNan", "FloorDiv", "Pow", "Acos", "Asin", "Acosh", "Atanh", "Exp", "Lgamma",
              "Digamma", "Xlogy", "Xdivy"}


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
    return vocabulary_of(sorted(assets_dir.iterdir()) if assets_dir.is_dir() else [], limit)


def vocabulary_of(files: list[Path], limit: int = 64) -> list[str]:
    """`vocabulary` of these files in this order (the export's assets before they are copied)."""
    words: list[str] = []
    for path in files:
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
        if len(dims) <= 1:
            # One integer per example (or one scalar: top-k's k, a beam width) is a
            # sequence length or a count as often as an id: 1 is valid as all three (a
            # length of 0 empties a sequence, and attention masked to -inf over no steps
            # answers NaN; k = 0 answers nothing to compare).
            return np.ones(dims, dtype=np_dtype)
        return rng.integers(0, 2, size=dims).astype(np_dtype)  # valid ids and masks
    if np_dtype.kind == "c":
        return (rng.standard_normal(dims) + 1j * rng.standard_normal(dims)).astype(np_dtype)
    return rng.standard_normal(dims).astype(np_dtype)


def signature_samples(signature_def: Any, words: list[str], batch: int = BATCH
                      ) -> dict[str, Any]:
    """Sample inputs for one SignatureDef, keyed like its inputs: `sample_value`'s (a
    length is 1, within any ``[1, time steps]``; ids are 0 or 1, below any vocabulary)
    and masks of ones."""
    import numpy as np

    from app.core.tf_runtime import tensorflow

    as_dtype = tensorflow().dtypes.as_dtype
    samples = {}
    for i, (key, info) in enumerate(sorted(signature_def.inputs.items())):
        shape = None if info.tensor_shape.unknown_rank else [d.size for d in info.tensor_shape.dim]
        dtype = as_dtype(info.dtype).name
        value = sample_value(dtype, shape, words, seed=i + 1, batch=batch)
        if "mask" in key.lower() and value.dtype.kind in "biuf":
            # A mask keeps every step: a row masked all off leaves an example nothing to
            # attend to or average over (NaN, or a check that refuses it).
            value = np.ones_like(value)
        samples[key] = value
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
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan") if np.isnan(a).any() or np.isnan(b).any() else float("inf")
    wide = np.complex128 if "c" in (a.dtype.kind, b.dtype.kind) else np.float64  # both parts
    diff = np.abs(a.astype(wide) - b.astype(wide))
    return float(diff.max())


def _close(a: Any, b: Any) -> bool:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "OSUb" or b.dtype.kind in "OSUb":
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=False))


@dataclass
class Expected:
    """One signature's sample inputs and what the checkpoint computes for them."""

    samples: dict[str, Any]  # input key -> array
    outputs: dict[str, Any]  # output key -> array
    distinct: int | None = None  # rows that are distinct examples (run alone), None: all
    fixed: int | None = None  # the only batch size the model takes (no runs alone)


@dataclass
class SampleSet:
    """What verification feeds: the real examples, if any, and fixed batch sizes."""

    given: Any = None  # `app.core.samples.Samples`, or None: synthetic only
    fixed: dict[str, int] = field(default_factory=dict)  # signature key -> batch size

    def signature(self, key: str, sig: Any, words: list[str], rows: int | None = None
                  ) -> tuple[dict[str, Any], set[str], int | None]:
        """(samples, keys made up, distinct rows) for one SignatureDef: the first real
        batch cycled to `BATCH` rows (or cut to the fixed size, or to ``rows``),
        synthetic for the inputs it leaves out."""
        given = self.given.first(set(sig.inputs)) if self.given is not None else {}
        fixed = self.fixed.get(key) or _fixed_first(sig)
        counts = {len(v) for v in given.values() if v.ndim >= 1}
        count = min(counts) if counts else 0
        size = fixed or rows or (max(min(count, MAX_GIVEN), BATCH) if count else BATCH)
        made = signature_samples(sig, words, size)
        synthetic = set(made) - set(given)
        out = {k: made[k] for k in synthetic}
        for k, value in given.items():
            out[k] = value if value.ndim == 0 else value[[i % count for i in range(size)]]
        distinct = min(count, size) if count and not synthetic else None
        return out, synthetic, distinct


def _fixed_first(sig: Any) -> int | None:
    """The first dimension every input of a SignatureDef fixes, if they do."""
    for info in sig.inputs.values():
        shape = info.tensor_shape
        if not shape.unknown_rank and shape.dim and shape.dim[0].size > 0:
            return shape.dim[0].size
    return None


def expected_outputs(signature_defs: dict[str, Any], words: list[str],
                     run: Callable[[list[str], dict[str, Any]], list[Any]],
                     feeding: SampleSet | None = None, graph: Any = None
                     ) -> dict[str, Expected]:
    """Run the checkpoint graph (``run(fetches, feeds)``, ``graph`` its ``tf.Graph``) on
    every signature's samples (`SampleSet.signature`)."""
    from app.core.samples.asserts import assertion_message
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    feeding = feeding or SampleSet()
    expected = {}
    for key, sig in sorted(signature_defs.items()):
        samples, synthetic, distinct = feeding.signature(key, sig, words)
        out_keys = sorted(sig.outputs)
        try:
            values = run([sig.outputs[k].name for k in out_keys],
                         {sig.inputs[k].name: v for k, v in samples.items()})
        except tf.errors.OpError as exc:
            said = None if graph is None else assertion_message(
                graph, exc, key, {k: sig.inputs[k].name for k in sig.inputs}, synthetic,
                feeding.given.origin if feeding.given is not None else None)
            raise ExportError(said or f"verification: the checkpoint graph fails on sample "
                              f"inputs for signature {key!r} ({error_line(exc)})") from exc
        expected[key] = Expected(samples, dict(zip(out_keys, values, strict=True)), distinct,
                                 feeding.fixed.get(key))
    return expected


def open_export(saved_dir: Path, beside: Callable[[], Any] | None = None,
                staged: Any = None) -> Any:
    """Load the staged SavedModel once (a `ServingModel`) for every check and the warmup.

    ``beside``: the checkpoint side (`expected_outputs`, whose session it closes), run
    just before the load, so memory holds one copy of the weights at a time.
    ``staged``: the `StagedSession` created while the variables were written, which
    finishes the load when the written graph is the one it was created from.
    """
    from app.core.serving.serving_model import CannotLoad, ServingModel

    try:
        # Whole-graph placement, as TF Serving loads it: the kernel-registry check
        # (`kernels`) comes first only to say so in one line before any writing.
        return ServingModel(saved_dir, beside=beside, staged=staged)
    except CannotLoad as exc:  # the checkpoint side's errors pass as they are
        cause = exc.__cause__ or exc
        first = str(cause).strip().splitlines()
        raise ExportError(f"verification: TensorFlow cannot load the export "
                          f"({first[0] if first else type(cause).__name__})") from cause


def check_export(model: Any, expected: dict[str, Expected], runs: SharedRuns,
                 cancelled: Callable[[], bool] | None = None,
                 off: Mapping[str, str] | None = None) -> VerifyReport:
    """Check every signature of the loaded ``model`` (a `ServingModel`) through ``runs``.

    The checkpoint's outputs (`expected_outputs`) are computed first so its session
    can be closed before the SavedModel is loaded: peak memory holds one model, not two.
    ``off``: ops of inference rewrites the user switched off -> how to switch them on
    (`app.core.rewrite.switched_off`); a failure they cause gives that as its fix.
    """
    report = VerifyReport()
    for key, sig in sorted(model.signatures.items()):
        if cancelled is not None and cancelled():
            raise Cancelled("export cancelled")
        want = expected[key]
        check = _SignatureRun(key, sig, want, runs, model.meta_graph, off or {})
        report.checks.append(check.run())
        report.samples[key] = want.samples
    return report


class _SignatureRun:
    """Every check of one signature on the loaded export's session."""

    def __init__(self, key: str, sig: Any, want: Expected, runs: SharedRuns, meta: Any,
                 off: Mapping[str, str]) -> None:
        self.key, self.sig, self.want, self.runs, self.meta = key, sig, want, runs, meta
        self.session = runs.session
        self.off = off
        self.out_keys = sorted(sig.outputs)
        self.fetches = [sig.outputs[k].name for k in self.out_keys]
        self.input_names = [sig.inputs[k].name for k in sorted(sig.inputs)]
        self._got: list[Any] = []
        self._stable = False

    def _run(self, samples: dict[str, Any]) -> list[Any]:
        from app.core.tf_runtime import tensorflow

        feeds = {self.sig.inputs[k].name: v for k, v in samples.items()}
        try:
            return self.runs.run(self.fetches, feeds)
        except tensorflow().errors.OpError as exc:
            raise ExportError(f"verification: signature {self.key!r} failed on sample inputs "
                              f"({error_line(exc)})") from exc

    def _fail(self, name: str, what: str) -> ExportError:
        return ExportError(f"verification: signature {self.key!r} output {name!r} {what}")

    def _check_stable(self) -> None:
        """Run the batch a second time: every output must agree with the first run."""
        if self._stable:
            return
        again = self._run(self.want.samples)
        for name, a, b in zip(self.out_keys, self._got, again, strict=True):
            if not _close(a, b):
                raise self._fail(name, "changes between two runs on the same inputs; "
                                 + self._nondeterminism_cause(name))
        self._stable = True

    def run(self) -> SignatureCheck:
        got = self._got = self._run(self.want.samples)
        for name, a in zip(self.out_keys, got, strict=True):
            bad = _non_finite(a)
            if bad:
                raise self._fail(name, f"is {bad} on sample inputs; a served model must "
                                       "answer with finite numbers; "
                                 + self._non_finite_source(name))
        batch = self._batch()
        if batch is None or batch < 2:  # no runs alone to show the outputs are stable
            self._check_stable()
        worst = 0.0
        for name, a in zip(self.out_keys, got, strict=True):
            b = self.want.outputs[name]
            diff = max_difference(a, b)
            if not _close(a, b):
                self._check_stable()  # an output that changes run to run says so first
                raise self._fail(name, f"differs from the checkpoint by {diff:.3g}; the "
                                 "export does not compute what the checkpoint does")
            worst = max(worst, diff)
        if batch is not None and batch >= 2:
            self._check_rows(got, batch)
        return SignatureCheck(self.key, worst, self.out_keys)

    def _batch(self) -> int | None:
        """The batch size of the samples, or None when the signature has no batch axis."""
        if self.want.fixed:  # the model takes no other batch size: nothing runs alone
            return None
        sizes = set()
        for info in self.sig.inputs.values():
            shape = info.tensor_shape
            if shape.unknown_rank or not shape.dim or shape.dim[0].size >= 0:
                return None
        for value in self.want.samples.values():
            sizes.add(len(value))
        return sizes.pop() if len(sizes) == 1 else None  # no inputs: nothing to batch

    def _check_rows(self, got: list[Any], batch: int) -> None:
        """Each example alone must get its row of the batch answer (see the module doc)."""
        import numpy as np

        distinct = batch if self.want.distinct is None else min(batch, self.want.distinct)
        alone = [self._run({k: v[i:i + 1] for k, v in self.want.samples.items()})
                 for i in range(distinct)]
        for n, (name, whole) in enumerate(zip(self.out_keys, got, strict=True)):
            whole = np.asarray(whole)
            singles = [np.asarray(run[n]) for run in alone]
            per_row = (whole.ndim >= 1 and whole.shape[0] == batch
                       and all(s.ndim >= 1 and s.shape[0] == 1 for s in singles))
            for i, single in enumerate(singles):
                bad = _non_finite(single)
                if bad:
                    raise self._fail(name, f"is {bad} for example {i + 1} sent alone; a "
                                           "served model must answer with finite numbers")
                want = whole[i:i + 1] if per_row else whole
                if _close(single, want):
                    continue
                self._check_stable()  # an output that changes run to run says so first
                diff = max_difference(single, want)
                cause = batch_mixing_cause(self.session.graph, self.sig.outputs[name].name,
                                           self.input_names, self.off)
                if per_row:
                    what = (f"mixes the examples of a batch: example {i + 1} sent alone "
                            f"differs by {diff:.3g} from its row in a batch of {batch}")
                else:
                    what = (f"has no batch dimension (shape {list(whole.shape)}) and "
                            f"changes with the examples sent (example {i + 1} alone "
                            f"differs by {diff:.3g}), so batched requests cannot share it")
                raise self._fail(name, f"{what}; cause: {cause}")

    def _non_finite_source(self, name: str) -> str:
        """The first op on the output's path whose result is not finite (one more run)."""
        from app.core.tf_runtime import tensorflow

        path = [op for op in batch_path(self.session.graph, self.sig.outputs[name].name,
                                        self.input_names)
                if op.type in _NAN_PRONE and op.outputs and "while/" not in op.name]
        if path:
            feeds = {self.sig.inputs[k].name: v for k, v in self.want.samples.items()}
            try:
                values = self.session.run([op.outputs[0].name for op in path], feeds)
            except tensorflow().errors.OpError:  # only a better message was at stake
                values = []
            for op, value in reversed(list(zip(path, values, strict=False))):
                if _non_finite(value):
                    return (f"it first appears at {op.name} ({op.type}), whose inputs fall "
                            "outside its domain or overflow; keep them in range in the model "
                            "(a small epsilon, a clip)")
        return "no log, division or root on its path is the source; look for an overflow"

    def _nondeterminism_cause(self, name: str) -> str:
        """Random and input-pipeline ops on the output's path, with their fixes."""
        graph = OpGraph(self.meta)
        findings = signature_findings(graph, [self.sig.outputs[name].name], self.input_names,
                                      off=self.off)
        if findings:
            return "; ".join(f.message for f in findings[:3])
        # Randomness inside a function body (an If branch) is out of the walk's sight,
        # but a switched-off training switch on the path is the fix.
        path = path_ops(graph, [self.sig.outputs[name].name], self.input_names)
        hints = sorted({self.off[op] for op in path if op in self.off})
        if hints:
            return "nothing on its path draws random numbers where Signet can see it; " \
                + "; ".join(hints)
        return ("no random or input-pipeline op is on its path; it reads state that "
                "changes from run to run (a variable assigned on every run, a queue or "
                "a stateful op): export a graph built for inference")


def _non_finite(value: Any) -> str | None:
    """``'NaN'``/``'Inf'`` (with a count) when ``value`` holds them, else None."""
    import numpy as np

    a = np.asarray(value)
    if a.dtype.kind not in "fc" or a.size == 0:
        return None
    nan = int(np.isnan(a).sum())
    inf = int(np.isinf(a).sum())
    if nan:
        return f"NaN in {nan} of {a.size} value(s)"
    if inf:
        return f"Inf in {inf} of {a.size} value(s)"
    return None
