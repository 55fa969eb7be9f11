"""Run one export as stages with progress, cancel and all-or-nothing publishing.

Stages: read graph, restore, build signatures, write variables, copy assets,
verify, publish. Verification runs on the finished SavedModel in its staging
folder, before it is renamed into place, so a failed check publishes nothing
(TensorFlow Serving never loads a version that was about to be withdrawn). Any
error or cancel removes the staging folder and leaves existing versions untouched.

By default the export serves only what its signatures need (``strip_training``:
`recipe.prune_meta_graph`). Before any TensorFlow work, the variables the exported
graph holds are looked up in the checkpoint's ``.index`` (`restore_keys`): a variable
the checkpoint has no value for stops the export with one line naming it. Verification
and the warmup run on real examples when there are (`app.core.samples`: the draft's
samples file, else batches drawn from the training pipeline at the read-graph stage),
at the training batch size of a model that takes no other.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core import memory, rewrite
from app.core.disk.beside import Started, started
from app.core.disk.checkpoint import Checkpoint
from app.core.errors import Cancelled, ExportError, SignatureError, error_line
from app.core.export import kernels, publish, recipe, restore_keys, serving, warmup
from app.core.export.file_notes import file_notes
from app.core.export.shared_runs import SharedRuns
from app.core.export.verify import (
    Expected,
    SampleSet,
    VerifyReport,
    check_export,
    expected_outputs,
    open_export,
    vocabulary,
    vocabulary_of,
)
from app.core.graph.op_registry import unregistered_in_meta_graph, unregistered_message
from app.core.graph.opgraph import OpGraph
from app.core.graph.protos import to_tensorflow_meta_graph
from app.core.loader import LoadedCheckpoint, load_checkpoint
from app.core.serving import serving_model
from app.core.signature.draft import Draft, Level, Problem, needed_ops
from app.core.validation.draft import validate

Progress = Callable[[float, str], None]
CancelCheck = Callable[[], bool]

# (stage, fraction where it starts)
STAGES = (
    ("read graph", 0.0),
    ("restore", 0.15),
    ("build signatures", 0.35),
    ("write variables", 0.4),
    ("copy assets", 0.65),
    ("verify", 0.7),
    ("warmup", 0.88),
    ("publish", 0.95),
)


@dataclass
class ExportResult:
    path: Path
    version: int
    model_folder: Path
    signature_defs: dict[str, Any]
    verification: VerifyReport | None
    variables_bytes: int
    notes: list[Problem] = field(default_factory=list)  # warnings and infos from validation
    rest_samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each signature's REST body as JSON text, made once where the export ran: a large
    # input (an image batch) makes megabytes of JSON, too slow for a window's UI thread.
    rest_texts: dict[str, str] = field(default_factory=dict)
    samples_origin: str | None = None  # where the real examples came from (None: synthetic)

    @property
    def summary(self) -> str:
        return serving.signature_summary(self.signature_defs)

    @property
    def models_config(self) -> str:
        return serving.models_config(self.model_folder.name, self.model_folder)

    def rest_refusal(self, key: str) -> str | None:
        """Why signature ``key`` has no REST body (TF Serving's JSON cannot hold a dtype)."""
        return serving.rest_refusal(self.signature_defs[key])

    def rest_body(self, key: str | None = None) -> dict[str, Any]:
        key = key or next(iter(sorted(self.signature_defs)))
        return serving.rest_body(key, self.rest_samples.get(key, {}), self.signature_defs[key])


def open_checkpoint(path: str | os.PathLike[str] | Checkpoint) -> LoadedCheckpoint:
    """What an export needs of a checkpoint: files, op graph, variables (no search index)."""
    return load_checkpoint(path, index_names=False)


def check_draft(draft: Draft, loaded: LoadedCheckpoint) -> list[Problem]:
    """Validate; raise `SignatureError` naming every error in one line."""
    problems = validate(draft, loaded.graph)
    errors = [str(p) for p in problems if p.level is Level.ERROR]
    if errors:
        raise SignatureError("; ".join(errors))
    return [p for p in problems if p.level is not Level.ERROR]


def export_model(
    draft: Draft,
    checkpoint: str | os.PathLike[str] | Checkpoint | LoadedCheckpoint,
    progress: Progress | None = None,
    cancelled: CancelCheck | None = None,
) -> ExportResult:
    """Export ``draft`` from ``checkpoint`` into ``BASE/NAME/VERSION`` (see module doc)."""
    def stage(name: str, message: str) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled("export cancelled; nothing was published")
        if progress is not None:
            progress(dict(STAGES)[name], message)

    opts = draft.options
    stage("read graph", "Reading the graph")
    loaded = checkpoint if isinstance(checkpoint, LoadedCheckpoint) else \
        open_checkpoint(checkpoint)
    notes = check_draft(draft, loaded)
    publish.check_target(opts.base, opts.name, opts.version, opts.overwrite)
    feeding = _sample_set(draft, loaded, notes) if opts.verify or opts.warmup else SampleSet()

    meta = to_tensorflow_meta_graph(loaded.graph.meta_graph)
    moved = recipe.resolve_assets(loaded.graph, loaded.checkpoint.prefix.parent)
    notes += file_notes(loaded, moved, opts.base)
    if moved:
        meta = recipe.with_assets_moved(meta, moved)
    # Rewritable sites switched off: their fix is switching on, if verification fails on one.
    off = rewrite.switched_off(rewrite.find_all(loaded.graph, draft), draft)
    rewritten, draft = recipe.inference_rewrite(meta, loaded.graph, draft)
    full_meta = rewritten  # verification's reference: the same rewrite, unpruned
    # The op graph of what is exported before pruning: made only when something needs it.
    graph_now = loaded.graph if rewritten is meta else None
    if opts.strip_training:
        if graph_now is None:
            graph_now = OpGraph(rewritten)
        rewritten = recipe.prune_meta_graph(rewritten, graph_now, draft)
    meta = rewritten
    missing = unregistered_in_meta_graph(meta)
    if missing:
        raise ExportError(f"{loaded.files.meta}: {unregistered_message(missing)}")
    restoring = restore_keys.plan(meta, restore_keys.saver_keys(loaded.graph),
                                  loaded.files.bundle.entries)
    if restoring.missing:
        read = set(restoring.missing) if opts.strip_training else \
            _read_by_signatures(OpGraph(full_meta) if graph_now is None else graph_now, draft)
        raise ExportError(restore_keys.missing_message(restoring, loaded.checkpoint.prefix,
                                                       read))
    keys = restoring.keys if restoring.rekeyed else None
    bound = recipe.bound_constants(draft, loaded.graph)
    graph, saver = recipe.import_graph(meta, bound)
    if keys is not None:  # the checkpoint's keys are not the ones the import's Saver uses
        saver = recipe.keyed_saver(graph, keys)

    stage("restore", f"Restoring variables from {loaded.checkpoint.prefix.name}")
    ops: list[recipe.WriteOps] = []

    def beside_restore(devices: set[str]) -> None:
        _check_placeable(meta, devices, loaded)
        ops.append(recipe.write_ops(graph, saver))

    session = recipe.restore(graph, saver, loaded.checkpoint.prefix, beside=beside_restore)
    staging: publish.Staging | None = None
    rest: Started[tuple[dict[str, Any], dict[str, str]]] | None = None
    staged: Started[Any] | None = None
    try:
        stage("build signatures", "Building signatures")
        sig_defs = recipe.signature_defs(draft, graph)

        stage("write variables", "Writing variables")
        memory.give_back()  # what the import and the restore freed, before the peak below
        staging = publish.Staging(opts.base, opts.name)
        # Verification's checkpoint side runs on the restored session while the variables
        # are written (`write_variables`), on words read from the assets before their copy.
        # Stripping pruned this session's graph: the unpruned reference comes later.
        early_words = vocabulary_of(recipe.asset_sources(graph))
        early_side = None if not opts.verify or opts.strip_training else \
            (lambda: _checkpoint_outputs(session, sig_defs, early_words, feeding))
        # The slow half of loading the export (its session over the whole graph) is made
        # meanwhile too, from the GraphDef the builder is about to write.
        builder, early, staged = _guard_io(lambda: recipe.write_variables(
            session, ops[0], staging.saved_dir, sig_defs, early_side,
            serving_model.stage if opts.verify or opts.warmup else None))

        stage("copy assets", "Writing the graph and copying assets")
        _guard_io(builder.save)
        variables_bytes = _size(staging.saved_dir / "variables")
        # The REST sample bodies (megabytes of JSON for an image batch) are Python work,
        # made while the C++ loader below runs without Python's lock.
        rest = started(lambda: _rest_samples(sig_defs, feeding))

        report = None
        expected: dict[str, Expected] = {}

        def checkpoint_side() -> None:  # closes the session: one copy of the weights
            expected.update(_expected(staging.saved_dir, session, sig_defs, full_meta, bound,
                                      loaded, opts.strip_training, keys, feeding))

        late_side = None
        if opts.verify:
            stage("verify", "Verifying the SavedModel against the checkpoint")
            if early is not None and vocabulary(staging.saved_dir / "assets") == early_words:
                expected.update(early)
            else:  # stripped, or the copied assets read differently: computed on them
                late_side = checkpoint_side
        if late_side is None:
            session.close()  # before the export is loaded: one copy of the weights at a time
            memory.give_back()
        if opts.verify or opts.warmup:
            # Loaded once for every check, the checkpoint side computed meanwhile.
            with open_export(staging.saved_dir, beside=late_side,
                             staged=_staged_session(staged)) as model:
                runs = SharedRuns(model.session)
                if opts.verify:
                    report = check_export(model, expected, runs, cancelled, off)
                if opts.warmup:
                    stage("warmup", "Writing and replaying TensorFlow Serving's warmup requests")
                    _guard_io(lambda: warmup.add_warmup(staging.saved_dir, sig_defs, opts.name,
                                                        cancelled, model, runs, feeding))

        # Everything that can fail is done before publishing: after it, nothing may.
        samples, texts = rest.result()
        stage("publish", f"Publishing into {staging.model_folder}")
        path, version = _guard_io(lambda: staging.publish(opts.version, opts.overwrite))
    except BaseException:
        if staged is not None:  # unused (an error came first), or already closed
            with contextlib.suppress(BaseException):
                staged.result().close()
        if rest is not None:
            with contextlib.suppress(BaseException):  # the error that got here wins
                rest.result()
        if staging is not None:
            staging.discard()
        raise
    finally:
        session.close()
    if progress is not None:
        progress(1.0, f"Published {path}")
    result = ExportResult(path, version, path.parent, sig_defs, report, variables_bytes, notes,
                          samples)
    result.rest_texts = texts
    result.samples_origin = feeding.given.origin if feeding.given is not None else None
    return result


def _sample_set(draft: Draft, loaded: LoadedCheckpoint, notes: list[Problem]) -> SampleSet:
    """The real examples verification and the warmup use, and the fixed batch sizes.

    ``--samples FILE`` when given; else batches drawn from the training pipeline when the
    inputs come from one whose data files exist (an info note says why not, when not).
    """
    from app.core.samples import signature_inputs
    from app.core.samples.files import read_samples
    from app.core.samples.fixed_batch import fixed_batches
    from app.core.samples.pipeline import draw

    fixed = {key: hit.size for key, hit in fixed_batches(draft, loaded.graph).items()}
    if draft.options.samples:
        return SampleSet(read_samples(draft.options.samples,
                                      signature_inputs(draft, loaded.graph)), fixed)
    drawn, why = draw(loaded.graph.meta_graph, loaded.graph, draft,
                      loaded.checkpoint.prefix.parent)
    if why:
        notes.append(Problem(Level.INFO, f"samples: synthetic, since {why}; give real "
                                         "examples with --samples FILE"))
    return SampleSet(drawn, fixed)


def _staged_session(staged: Started[Any] | None) -> Any:
    """The staged session once it is made, or None when there is none or making it failed:
    then the export is loaded as usual, and that load says what is wrong, if anything."""
    if staged is None:
        return None
    try:
        return staged.result()
    except Exception:
        return None


def _rest_samples(sig_defs: dict[str, Any], feeding: SampleSet
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """Each signature's REST sample inputs (one example, the first real one when there
    are; at the fixed batch size when the model takes no other) and its body as JSON text;
    none for a signature TF Serving's REST API cannot serve (`serving.rest_refusal`). Never
    words of the assets, which are printed nowhere unasked (they may not be the user's)."""
    served = {k: s for k, s in sig_defs.items() if serving.rest_refusal(s) is None}
    samples = {k: feeding.signature(k, s, [], rows=feeding.fixed.get(k) or 1)[0]
               for k, s in served.items()}
    texts = {k: json.dumps(serving.rest_body(k, samples[k], sig)) for k, sig in served.items()}
    return samples, texts


def _expected(saved_dir: Path, session: recipe.Session, sig_defs: dict[str, Any],
              full_meta: Any, bound: dict[str, Any], loaded: LoadedCheckpoint,
              stripped: bool, keys: dict[str, str] | None, feeding: SampleSet
              ) -> dict[str, Expected]:
    """The checkpoint side of verification (the unpruned graph when the export was stripped).

    It runs in the session the export restored, unless stripping pruned that graph:
    then in the unpruned graph with the variables the signatures read restored
    (`recipe.reading_saver`, from ``keys`` when the checkpoint's keys are not the
    default ones). Its sessions are closed before the SavedModel is loaded, so
    verification never holds two copies of the weights.
    """
    reference = session
    if stripped:
        session.close()
        graph, saver = recipe.import_graph(full_meta, bound)
        fetches = [t.name for sig in sig_defs.values() for t in sig.outputs.values()]
        fed = [t.name for sig in sig_defs.values() for t in sig.inputs.values()]
        reference = recipe.restore(graph, recipe.reading_saver(graph, saver, fetches, fed,
                                                               keys),
                                   loaded.checkpoint.prefix)
    try:
        return _checkpoint_outputs(reference, sig_defs, vocabulary(saved_dir / "assets"),
                                   feeding)
    finally:
        reference.close()
        session.close()
        memory.give_back()


def _checkpoint_outputs(reference: recipe.Session, sig_defs: dict[str, Any],
                        words: list[str], feeding: SampleSet) -> dict[str, Expected]:
    """What ``reference`` (restored, its tables not yet initialized) computes on the samples."""
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    # The initializers themselves, not a new tables_initializer() group: a new op
    # would make TensorFlow copy the whole graph into the session again (~1 s here),
    # and the graph must not change while the variables are written beside this.
    tables = reference.graph.get_collection(tf.compat.v1.GraphKeys.TABLE_INITIALIZERS)
    if tables:
        try:
            reference.run(tables, {})
        except tf.errors.OpError as exc:
            raise ExportError("verification: the checkpoint graph's lookup tables fail to "
                              f"initialize ({error_line(exc)})") from exc
    return expected_outputs(sig_defs, words, reference.run, feeding, reference.graph)


def _read_by_signatures(graph: OpGraph, draft: Draft) -> set[str]:
    """The ops (variables among them) the draft's signatures compute their outputs from."""
    read: set[str] = set()
    for sig in draft.signatures:
        fed = [s.tensor for s in sig.inputs] + list(draft.bound)
        read |= needed_ops(graph, (s.tensor for s in sig.outputs), fed)
    return read


def _check_placeable(meta: Any, devices: set[str], loaded: LoadedCheckpoint) -> None:
    """Refuse a graph TF Serving could not place whole on ``devices`` (see `kernels`)."""
    missing = kernels.unplaceable(meta.graph_def, devices)
    if missing:
        raise ExportError(
            f"{loaded.files.meta}: {len(missing)} op(s) have no kernel for this machine's "
            f"devices ({', '.join(sorted(devices))}) or their dtypes, so TensorFlow Serving "
            f"could not load the graph: {', '.join(missing[:3])}; export serving-only (the "
            "default) if only training uses them, or export on a machine that has them")


def _guard_io(write: Callable[[], Any]) -> Any:
    """Turn write failures (disk full, permissions, TF's own I/O errors) into ExportError."""
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    try:
        return write()
    except OSError as exc:
        raise ExportError(f"cannot write the export: {publish.io_words(exc)}; nothing was "
                          "published") from exc
    except tf.errors.OpError as exc:
        raise ExportError(f"cannot write the export: {error_line(exc)}; "
                          "nothing was published") from exc


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
