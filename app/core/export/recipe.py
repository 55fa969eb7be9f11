"""The checkpoint-to-SavedModel recipe with TensorFlow's own classes.

``import_meta_graph(clear_devices=True)`` then ``Saver.restore`` (restored
variables are never re-initialized), ``build_tensor_info`` signatures, and
``SavedModelBuilder`` with tag ``serve``, ``strip_default_attrs=True``, the table
initializers as main op and the ``ASSET_FILEPATHS`` files copied into
``assets/`` (TensorFlow's loader feeds their new paths when it runs the main op).

Bound placeholders become constants through ``input_map``. A serving-only export
(the default; ``--keep-training-state`` keeps everything) rewrites the MetaGraphDef
before import: `prune_meta_graph` keeps only the ops the signatures need (plus table
initializers, assets and what the kept variables' definitions reference), only the
library functions those call, and only the collections that describe them, so the fresh
graph holds, saves and restores only the variables the model reads. When the checkpoint
holds them under other keys than the import's Saver would use (a Saver's ``var_list``
dict), `keyed_saver` restores them from the keys `restore_keys` found.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from app.core.disk.beside import Started
from app.core.disk.plain_path import plain_prefix
from app.core.errors import ExportError, error_line
from app.core.export.control_flow import prune_context_records
from app.core.graph.opgraph import OpGraph
from app.core.signature.draft import METHOD_NAMES, Draft, needed_ops, tensor_name


class _Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T")
S = TypeVar("S", bound=_Closable)

_KEPT_COLLECTIONS = {"variables", "trainable_variables", "model_variables", "local_variables",
                     "table_initializer", "asset_filepaths", "cond_context", "while_context"}
_VARIABLE_COLLECTIONS = {"variables", "trainable_variables", "model_variables",
                         "local_variables"}


def _op(name: str) -> str:
    return name.split(":", 1)[0].lstrip("^")


def resolve_assets(graph: OpGraph, checkpoint_dir: Path) -> dict[str, str]:
    """Asset-path constants that must point elsewhere: {op name: existing file}.

    A vocabulary recorded with an absolute path from the training machine is
    looked up next to the checkpoint when the original path is gone.
    """
    moved = {}
    for tensor in graph.asset_files():
        op = graph.ops.get(_op(tensor))
        if op is None or op.type != "Const":
            continue
        proto = op.node.attr["value"].tensor
        if not proto.string_val:
            continue
        original = proto.string_val[0].decode("utf-8", "replace")
        path = Path(original)
        if not path.is_file():
            local = checkpoint_dir / path.name
            if not local.is_file():
                raise ExportError(f"asset {original} (used by {op.name}) is missing; copy "
                                  f"{path.name} next to the checkpoint in {checkpoint_dir}")
            moved[op.name] = str(local)
    return moved


def with_assets_moved(meta: Any, moved: dict[str, str]) -> Any:
    """A copy of ``meta`` whose asset constants hold the ``moved`` paths."""
    from tensorflow.core.protobuf import meta_graph_pb2

    copy = meta_graph_pb2.MetaGraphDef()
    copy.CopyFrom(meta)
    for node in copy.graph_def.node:
        if node.name in moved:
            node.attr["value"].tensor.string_val[0] = moved[node.name].encode("utf-8")
    return copy


def inference_rewrite(meta: Any, graph: OpGraph, draft: Draft) -> tuple[Any, Draft]:
    """``meta`` under the draft's inference rewrites, and the draft on the renamed tensors.

    The rewritten graph is what is both exported and verified against, so the export
    is compared with the model's inference mode, never the raw training graph.
    """
    from app.core.rewrite import apply_all, renamed_draft

    applied = apply_all(meta, graph, draft)
    return applied.meta, renamed_draft(draft, applied.renamed)


def prune_meta_graph(meta: Any, graph: OpGraph, draft: Draft) -> Any:
    """A copy of ``meta`` holding only what ``draft``'s signatures need to serve.

    A graph whose variables are in no collection (TF2-written, a SavedModel opened as
    the source) keeps its own Saver, and with it every variable that Saver restores:
    nothing else could restore them.
    """
    from tensorflow.core.framework import variable_pb2
    from tensorflow.core.protobuf import meta_graph_pb2

    tf = _tf()
    extract = tf.compat.v1.graph_util.extract_sub_graph

    dest: set[str] = set()
    for sig in draft.signatures:
        fed = [s.tensor for s in sig.inputs] + list(draft.bound)
        dest |= needed_ops(graph, (s.tensor for s in sig.outputs), fed)
        dest |= {_op(tensor_name(s.tensor)) for s in sig.inputs}
    kept = set(_nodes(extract(meta.graph_def, sorted(dest))))
    for init in graph.collection_names("table_initializer"):
        op = graph.ops.get(init)
        if op is not None and op.input_ops and op.input_ops[0] in kept:
            dest.add(init)

    variables: dict[str, Any] = {}  # variable op -> VariableDef, for kept variables
    for key in _VARIABLE_COLLECTIONS:
        collection = meta.collection_def.get(key)
        if collection is None:
            continue
        for raw in collection.bytes_list.value:
            var = variable_pb2.VariableDef.FromString(raw)
            variables[_op(var.variable_name)] = var
    kept = set(_nodes(extract(meta.graph_def, sorted(dest))))
    for op_name, var in variables.items():
        if op_name in kept:
            dest |= {_op(n) for n in (var.initializer_name, var.snapshot_name,
                                      var.initial_value_name) if n}
    own_saver = not variables and meta.HasField("saver_def")
    if own_saver:
        dest |= {_op(meta.saver_def.restore_op_name), _op(meta.saver_def.save_tensor_name)}
    sub = extract(meta.graph_def, sorted(dest))
    kept = set(_nodes(sub))
    _drop_uncalled_functions(sub)

    pruned = meta_graph_pb2.MetaGraphDef()
    pruned.meta_info_def.CopyFrom(meta.meta_info_def)
    pruned.graph_def.CopyFrom(sub)
    if own_saver:
        pruned.saver_def.CopyFrom(meta.saver_def)
    for key, collection in meta.collection_def.items():
        if key not in _KEPT_COLLECTIONS:
            continue
        kind = collection.WhichOneof("kind")
        out = pruned.collection_def[key]
        if kind == "node_list":
            out.node_list.value.extend(v for v in collection.node_list.value
                                       if _op(v) in kept)
        elif kind == "bytes_list" and key in _VARIABLE_COLLECTIONS:
            for raw in collection.bytes_list.value:
                var = variable_pb2.VariableDef.FromString(raw)
                if _op(var.variable_name) in kept:
                    out.bytes_list.value.append(raw)
        elif kind == "bytes_list":
            out.bytes_list.value.extend(
                prune_context_records(key, collection.bytes_list.value, kept))
        if out.WhichOneof("kind") is None:  # nothing kept: an empty one makes TF log errors
            del pruned.collection_def[key]
    return pruned


def _called_functions(graph_def: Any) -> set[str]:
    """The library functions ``graph_def``'s nodes call, directly or through other functions:
    as an op type, or in a ``func`` attr (a dataset's map function, an ``If``'s branches)."""
    bodies = {f.signature.name: f for f in graph_def.library.function}
    called: set[str] = set()
    nodes = list(graph_def.node)
    while nodes:
        node = nodes.pop()
        names = [node.op]
        values = list(node.attr.values())
        while values:  # a function's own attrs may name functions too
            value = values.pop()
            funcs = [value.func] if value.HasField("func") else \
                list(value.list.func) if value.HasField("list") else []
            for func in funcs:
                names.append(func.name)
                values.extend(func.attr.values())
        for name in names:
            if name in bodies and name not in called:
                called.add(name)
                nodes.extend(bodies[name].node_def)
    return called


def _drop_uncalled_functions(graph_def: Any) -> None:
    """Remove the functions nothing kept calls (extract_sub_graph copies the whole library):
    a stripped export carries no tf.data map functions of the input pipeline it left out."""
    called = _called_functions(graph_def)
    library = graph_def.library
    kept = [f for f in library.function if f.signature.name in called]
    gradients = [g for g in library.gradient
                 if g.function_name in called and g.gradient_func in called]
    del library.function[:]
    library.function.extend(kept)
    del library.gradient[:]
    library.gradient.extend(gradients)


def _nodes(graph_def: Any) -> list[str]:
    return [n.name for n in graph_def.node]


def _tf():
    from app.core.tf_runtime import tensorflow

    return tensorflow()


@dataclass
class Session:
    """A TF1 graph and session holding an imported meta graph with restored variables."""

    graph: Any
    session: Any
    saver: Any

    def close(self) -> None:
        self.session.close()

    def run(self, fetches: list[str], feeds: dict[str, Any]) -> list[Any]:
        return self.session.run(fetches, feeds)


def bound_constants(draft: Draft, graph: OpGraph) -> dict[str, Any]:
    """``--bind`` values as numpy arrays of their placeholder's dtype."""
    import numpy as np

    values = {}
    for raw, value in draft.bound.items():
        name = tensor_name(raw)
        t = graph.tensor(name)
        if t is None:
            continue
        if t.dtype == "string":
            values[name] = np.asarray(value, dtype=object)
        else:
            values[name] = np.asarray(value, dtype="float32" if t.dtype == "bfloat16"
                                      else t.dtype)
    return values


def import_graph(meta: Any, bound: dict[str, Any]) -> tuple[Any, Any]:
    """A fresh ``tf.Graph`` with ``meta`` imported (devices cleared); returns (graph, saver).

    A bound tensor whose op an inference rewrite already took out of ``meta`` (a
    ``keep_prob`` that only fed a bypassed dropout) has nothing left to bind.
    ``meta`` may be TensorBoard's copy of the class (as graphs are read for display);
    TensorFlow's import takes only its own.
    """
    from app.core.graph.protos import to_tensorflow_meta_graph

    tf = _tf()
    tf1 = tf.compat.v1
    meta = to_tensorflow_meta_graph(meta)
    graph = tf.Graph()
    present = {node.name for node in meta.graph_def.node}
    with graph.as_default():
        input_map = {
            name: tf.constant(value, name="signet_bound/" + _op(name).replace("/", "_"))
            for name, value in bound.items() if _op(name) in present
        }
        try:
            saver = tf1.train.import_meta_graph(meta, clear_devices=True,
                                                input_map=input_map or None)
        except (ValueError, KeyError, tf.errors.OpError) as exc:
            raise ExportError(_import_failure(meta, exc)) from exc
    return graph, saver


_NODE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/>]*\Z")  # TensorFlow's rule


def _import_failure(meta: Any, exc: BaseException) -> str:
    """What TensorFlow said; missing libraries only when an op type really is unregistered."""
    from app.core.graph.op_registry import unregistered_in_meta_graph, unregistered_message

    said = f"TensorFlow cannot import the graph: {error_line(exc)}"
    bad = next((node.name for node in meta.graph_def.node if not _NODE_NAME.match(node.name)),
               None)
    if bad is not None:  # TensorFlow's own message stops at a NUL in it
        return (f"TensorFlow cannot import the graph: node name {bad!r} is not a TensorFlow "
                "name (letters, digits and . _ - / > only); the meta graph was not written by "
                "TensorFlow as it is, save it again from the training program")
    missing = unregistered_in_meta_graph(meta)
    if missing:
        return f"{said}; the graph {unregistered_message(missing)}"
    return (f"{said}; every op type is registered, so the graph itself is inconsistent "
            "(if it fails only serving-only, export keeping the training state, and report "
            "it)")


def restore(graph: Any, saver: Any, prefix: Path,
            beside: Callable[[set[str]], Any] | None = None) -> Session:
    """Open a session and restore the checkpoint's values (never an initializer).

    ``beside(device_types)`` runs here while the restore runs in a thread
    (`run_beside`): the engine's kernel check, which needs the session's devices but
    not its variables. The session is closed when either fails.
    """
    from app.core.disk.beside import run_beside

    tf1 = _tf().compat.v1
    config = tf1.ConfigProto()
    # Place only what each run needs. This session runs the restore, the save and
    # verification's checkpoint side, never the whole training graph; placing all of
    # it at every run that adds ops cost more than those runs (the ResNet-50 bench).
    # TF Serving places the whole graph: the engine checks that from the kernel
    # registry instead (`kernels.unplaceable`).
    config.graph_options.place_pruned_graph = True
    session = tf1.Session(graph=graph, config=config)

    def restore_values() -> None:
        try:
            # The Saver's restore op itself, not ``saver.restore``: that first looks the
            # prefix up as a file pattern, and a real ``ck [1]/m*del.ckpt`` matches nothing
            # (so does the op: `plain_prefix`). The checkpoint's files were checked
            # (`check_complete`) before any of this.
            if saver is not None and saver.saver_def is not None:  # None: nothing to restore
                with plain_prefix(prefix) as readable:
                    session.run(saver.saver_def.restore_op_name,
                                {saver.saver_def.filename_tensor_name: str(readable)})
        except Exception as exc:
            raise ExportError(f"{prefix}: cannot restore the variables "
                              f"({error_line(exc, kind=True)}); is the checkpoint complete "
                              "and undamaged? copy its files again") from exc

    try:
        if beside is None:
            restore_values()
        else:
            devices = {d.device_type for d in session.list_devices()}
            run_beside(restore_values, lambda: beside(devices))
    except BaseException:
        session.close()
        raise
    return Session(graph, session, saver)


def keyed_saver(graph: Any, keys: dict[str, str]) -> Any:
    """A Saver restoring each global variable of ``graph`` from ``keys[its op name]`` (the
    checkpoint's own keys, `restore_keys.plan`), and the graph's other saveable objects
    (lookup tables) under their own names."""
    tf1 = _tf().compat.v1
    graph_keys = tf1.GraphKeys
    var_list = _keyed(graph.get_collection(graph_keys.GLOBAL_VARIABLES), keys)
    var_list.update((s.name, s) for s in graph.get_collection(graph_keys.SAVEABLE_OBJECTS))
    with graph.as_default():
        return tf1.train.Saver(var_list, sharded=True, allow_empty=True,
                               name="signet_restore_saver")


def _keyed(variables: list[Any], keys: dict[str, str]) -> dict[str, Any]:
    """A Saver's ``var_list`` dict: each variable under ``keys[its op name]`` (else the key
    ``Saver()`` gives it), a partitioned variable's parts together under one key."""
    grouped: dict[str, list[Any]] = {}
    for v in variables:
        info = v._save_slice_info  # how TensorFlow's own Saver knows a partition
        default = info.full_name if info is not None else v.op.name
        grouped.setdefault(keys.get(v.op.name, default), []).append(v)
    return {key: parts if parts[0]._save_slice_info is not None else parts[0]
            for key, parts in grouped.items()}


def reading_saver(graph: Any, saver: Any, fetches: list[str], fed: list[str],
                  keys: dict[str, str] | None = None) -> Any:
    """A Saver restoring only the variables that computing ``fetches`` from ``fed`` reads
    (every op on the way, data and control inputs, v1 loops' back edges included), or
    ``saver`` itself when they are all of them. ``keys``: the checkpoint's key of each
    variable, when they are not the ones a new Saver gives (see `keyed_saver`).

    The unpruned graph that a stripped export's verification runs holds the training
    state too (Adam keeps two slots per weight): restoring it only to leave it unread
    would triple the restore's time and memory.
    """
    tf1 = _tf().compat.v1
    fed_set = set(fed)
    seen: set[str] = set()
    stack = [graph.get_tensor_by_name(name).op for name in fetches if name not in fed_set]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs if t.name not in fed_set)
        stack.extend(op.control_inputs)
    variables = graph.get_collection(tf1.GraphKeys.GLOBAL_VARIABLES)
    read = [v for v in variables if v.op.name in seen]
    saveables = graph.get_collection(tf1.GraphKeys.SAVEABLE_OBJECTS)
    if keys is None and (saver is None or len(read) == len(variables)):
        return saver
    var_list: Any = read + saveables
    if keys is not None:
        var_list = _keyed(read, keys)
        var_list.update((s.name, s) for s in saveables)
    with graph.as_default():
        return tf1.train.Saver(var_list, sharded=True, allow_empty=True,
                               name="signet_reference_saver")


def signature_defs(draft: Draft, graph: Any) -> dict[str, Any]:
    """``signature_def_map`` built with ``build_tensor_info`` for each draft signature."""
    tf1 = _tf().compat.v1
    utils = tf1.saved_model
    result = {}

    def info(slots):
        return {s.key: utils.build_tensor_info(graph.get_tensor_by_name(tensor_name(s.tensor)))
                for s in slots}

    with graph.as_default():
        for sig in draft.signatures:
            result[sig.key] = utils.signature_def_utils.build_signature_def(
                info(sig.inputs), info(sig.outputs), METHOD_NAMES[sig.method])
    return result


@dataclass
class WriteOps:
    """The ops the builder runs: its main op and the saver it writes the variables with."""

    main_op: Any
    saver: Any


def write_ops(graph: Any, saver: Any) -> WriteOps:
    """Add the ops `write_variables` runs to ``graph``; ``saver``: the imported one.

    Adding them is Python work over every variable (a sharded saver for ResNet-50 with
    its Adam slots: ~0.4 s), so the engine does it while the restore runs: adding ops
    to a graph while a session runs it is safe, the session copies them at its next run.
    """
    tf1 = _tf().compat.v1
    keys = tf1.GraphKeys
    with graph.as_default():
        # Not tf1.saved_model.main_op.main_op(): it also runs
        # global_variables_initializer, which would overwrite the restored weights.
        main_op = tf1.group(tf1.tables_initializer(), tf1.local_variables_initializer(),
                            name="signet_main_op")
        saveables = graph.get_collection(keys.GLOBAL_VARIABLES) + \
            graph.get_collection(keys.SAVEABLE_OBJECTS)
        # The saver the builder would make itself, made here before anything runs beside.
        # A TF2-written graph (a SavedModel re-exported) keeps its variables in no
        # collection: only the Saver it came with knows them.
        writer = tf1.train.Saver(saveables, sharded=True, allow_empty=True,
                                 write_version=tf1.train.SaverDef.V2) \
            if graph.get_collection(keys.GLOBAL_VARIABLES) else saver
    return WriteOps(main_op, writer)


def write_variables(session: Session, ops: WriteOps, saved_dir: Path,
                    signatures: dict[str, Any], beside: Callable[[], T] | None = None,
                    with_graph: Callable[[Any, bytes], S] | None = None
                    ) -> tuple[Any, T | None, Started[S] | None]:
    """Save variables and the meta graph (builder's first half) with ``ops`` (`write_ops`).

    Returns (builder, beside(), the started ``with_graph``). ``beside``: work on the
    restored session (verification's checkpoint side) run on this thread while the
    variables are written in another (`run_beside`). Every op the write needs is in
    the graph already, so nothing mutates the graph while ``beside`` runs; the builder
    only runs the save and serializes the graph, and copies the assets: ``beside`` must
    not read them from ``saved_dir``. The write's error wins, as when the two ran one
    after the other. ``with_graph`` is started in a thread of its own at once with the
    GraphDef the builder will write into ``saved_model.pb`` (`serving_graph_def`): the
    verification's staged load (`app.core.serving.staged_session`) is created from it meanwhile.
    """
    from app.core.disk.beside import run_beside, started

    tf1 = _tf().compat.v1
    graph = session.graph
    keys = tf1.GraphKeys
    with graph.as_default():
        builder = tf1.saved_model.Builder(str(saved_dir))

    def write() -> None:
        with graph.as_default():
            builder.add_meta_graph_and_variables(
                session.session,
                [tf1.saved_model.tag_constants.SERVING],
                signature_def_map=signatures,
                assets_collection=graph.get_collection(keys.ASSET_FILEPATHS),
                main_op=ops.main_op,
                strip_default_attrs=True,
                saver=ops.saver,
            )

    staged = None if with_graph is None else \
        started(lambda: with_graph(*serving_graph_def(graph, ops.saver)))
    try:
        if beside is None:
            write()
            return builder, None, staged
        _, value = run_beside(write, beside)
    except BaseException:
        if staged is not None:  # made for a load that will not come
            with contextlib.suppress(BaseException):
                staged.result().close()
        raise
    return builder, value, staged


def serving_graph_def(graph: Any, saver: Any) -> tuple[Any, bytes]:
    """The GraphDef `write_variables`' builder puts into ``saved_model.pb``, and it
    serialized deterministically: made the way the builder makes it
    (``Saver.export_meta_graph`` with default-valued attrs stripped), but without the
    collections, which the builder is adding meanwhile in another thread and which are
    no part of the GraphDef."""
    with graph.as_default():
        meta = saver.export_meta_graph(clear_devices=False, strip_default_attrs=True,
                                       collection_list=[])
    return meta.graph_def, meta.graph_def.SerializeToString(deterministic=True)


def asset_sources(graph: Any) -> list[Path]:
    """The asset files the builder copies into ``assets/``, in that folder's name order."""
    tf1 = _tf().compat.v1
    paths = []
    for tensor in graph.get_collection(tf1.GraphKeys.ASSET_FILEPATHS):
        value = tensor.op.get_attr("value").string_val
        if value:
            paths.append(Path(value[0].decode("utf-8", "replace")))
    return sorted(set(paths), key=lambda p: (p.name, str(p)))

