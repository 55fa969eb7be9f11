"""Open an exported SavedModel the way a checkpoint is opened: graph, variables, signatures.

A SavedModel folder (``saved_model.pb`` + ``variables/variables.*``) is a meta graph
and a checkpoint in another wrapping: its ``serve`` meta graph is a ``MetaGraphDef``
and ``variables/variables`` is a checkpoint prefix with an ``.index`` and data shards.
So it opens into the same `LoadedCheckpoint` (op tree, graph view, `inspect`,
`render`), and an export from it restores from ``variables/variables``: no checkpoint
needed. A model folder (integer-named versions inside) means its newest version.

- ``open_saved_model(folder, stage)``: the checkpoint, files, graph and variables a
  `LoadedCheckpoint` holds (`CheckpointError` on bad input)
- ``read_serve_meta_graph(folder) -> MetaGraphDef``
- ``signatures_json(meta_graph) -> dict``: each signature's method, inputs and outputs
  with tensor, dtype and shape (``signet inspect --json``'s ``signatures``);
  ``signature_lines`` prints them; ``is_saved_model(loaded)``;
  ``version_folder(checkpoint)``: the version folder of a SavedModel's `Checkpoint`.
- ``draft_from_signatures(loaded) -> Draft | None``: what the window edits when a
  SavedModel opens (its signatures, exporting as the model folder's next version).

Parsing protobufs only: no session, no op kernels, nothing imported into a graph.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.disk.bundle_index import BundleIndex, read_bundle_index
from app.core.disk.checkpoint import Checkpoint, CheckpointFiles, data_shards, missing_shard
from app.core.disk.variables import VariableInventory
from app.core.dtypes import dtype_name
from app.core.errors import CheckpointError, read_checkpoint_file
from app.core.graph.opgraph import OpGraph, format_shape
from app.core.signature.draft import METHOD_NAMES, Draft, Signature, Slot

SERVE_TAG = "serve"
# What the SavedModel builder adds to a graph; a new export adds its own again.
SAVED_MODEL_COLLECTIONS = ("saved_model_main_op", "legacy_init_op", "saved_model_assets",
                           "saved_model_train_op")
VARIABLES = Path("variables") / "variables"
_FIX = "export it again, or open the training checkpoint instead"


def read_serve_meta_graph(folder: Path) -> Any:
    """The ``serve`` meta graph of the SavedModel in ``folder`` (binary or text proto)."""
    from app.core.tf_runtime import tensorflow

    tensorflow()
    from google.protobuf import text_format
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    model = saved_model_pb2.SavedModel()
    binary = folder / "saved_model.pb"
    path = binary if binary.exists() else folder / "saved_model.pbtxt"
    data = read_checkpoint_file(path)
    try:
        if path == binary:
            model.ParseFromString(data)
        else:
            text_format.Parse(data.decode("utf-8"), model)
    except (DecodeError, RuntimeError, ValueError, text_format.ParseError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated SavedModel — {_FIX}") from exc
    for meta in model.meta_graphs:
        if SERVE_TAG in meta.meta_info_def.tags:
            if not meta.graph_def.node:
                break
            return meta
    tags = ["/".join(m.meta_info_def.tags) or "(none)" for m in model.meta_graphs]
    raise CheckpointError(f"{path}: no '{SERVE_TAG}' meta graph with ops (tag sets: "
                          f"{', '.join(tags) or 'none'}) — {_FIX}")


def as_checkpoint_graph(meta: Any, folder: Path) -> Any:
    """A copy of ``meta`` that exports like a checkpoint's: the builder's collections
    dropped (the builder refuses a graph that has a main op already) and each asset's
    path constant pointing at the file in the version's ``assets/`` folder."""
    from tensorflow.core.protobuf import meta_graph_pb2

    clean = type(meta)()
    clean.CopyFrom(meta)
    # TF2 writes the field; TF1's builder (and Signet) the saved_model_assets collection.
    assets = list(clean.asset_file_def)
    if not assets and "saved_model_assets" in clean.collection_def:
        for value in clean.collection_def["saved_model_assets"].any_list.value:
            assets.append(meta_graph_pb2.AssetFileDef())
            value.Unpack(assets[-1])
    for key in SAVED_MODEL_COLLECTIONS:
        if key in clean.collection_def:
            del clean.collection_def[key]
    nodes = {node.name: node for node in clean.graph_def.node}
    for asset in assets:
        node = nodes.get(asset.tensor_info.name.rpartition(":")[0])
        if node is not None and node.op == "Const":
            path = str(folder.absolute() / "assets" / asset.filename).encode("utf-8")
            node.attr["value"].tensor.string_val[:] = [path]
    del clean.asset_file_def[:]
    return clean


def _files(folder: Path, meta_path: Path, saves_variables: bool) -> CheckpointFiles:
    """The version's variables; none when its graph has no Saver (a model that reads no
    variable: the builder then writes none, and TF Serving loads it so)."""
    prefix = folder / VARIABLES
    index = prefix.with_name(prefix.name + ".index")
    if not index.exists() and not saves_variables:
        return CheckpointFiles(prefix=prefix, meta=meta_path, index=index, data=(),
                               bundle=BundleIndex(path=index, num_shards=0, entries={}))
    if not index.exists():
        raise CheckpointError(f"{index}: missing (the SavedModel's variables) — copy the "
                              "whole version folder, variables/ included")
    bundle = read_bundle_index(index)
    shard = missing_shard(prefix, bundle.num_shards)
    if shard is not None:
        raise CheckpointError(f"{shard}: missing (a variables shard) — copy the whole "
                              "version folder, variables/ included")
    shards = data_shards(prefix, bundle.num_shards)
    bundle.check_shard_sizes(shards)
    return CheckpointFiles(prefix=prefix, meta=meta_path, index=index, data=shards,
                           bundle=bundle)


def open_saved_model(folder: Path, stage: Callable[[float, str], None]
                     ) -> tuple[Checkpoint, CheckpointFiles, OpGraph, VariableInventory]:
    """``folder`` (a SavedModel version) as the parts of a `LoadedCheckpoint`.

    `app.core.loader` wraps them: this module sits below the loader, which imports it.
    """
    meta_path = folder / ("saved_model.pb" if (folder / "saved_model.pb").exists()
                          else "saved_model.pbtxt")
    stage(0.05, f"Reading {meta_path.name}")
    serve = read_serve_meta_graph(folder)
    stage(0.15, "Checking the SavedModel is complete")
    files = _files(folder, meta_path, serve.HasField("saver_def"))
    meta = as_checkpoint_graph(serve, folder)
    stage(0.45, "Building the op graph")
    graph = OpGraph(meta)
    stage(0.8, "Classifying variables")
    trainable = set(graph.collection_names("trainable_variables"))
    variables = VariableInventory.from_index(files.bundle, trainable)
    return Checkpoint(files.prefix, (files.prefix,)), files, graph, variables


def is_saved_model(loaded: Any) -> bool:
    """True when ``loaded`` came from a SavedModel (its prefix is ``variables/variables``)."""
    return loaded.files.meta.name.startswith("saved_model.")


def version_folder(checkpoint: Checkpoint) -> Path | None:
    """The version folder a SavedModel's `Checkpoint` stands for (its prefix is
    ``VERSION/variables/variables``), None for a training checkpoint: the window names
    a SavedModel by its model and version, never by ``variables``."""
    prefix = checkpoint.prefix
    return prefix.parent.parent if prefix.name == prefix.parent.name == "variables" else None


def signatures_json(meta_graph: Any) -> dict[str, Any]:
    """Every SignatureDef (init-op signatures left out) with its tensors' dtype and shape."""
    def side(infos: Any) -> dict[str, Any]:
        out = {}
        for key in sorted(infos):
            info = infos[key]
            shape = None if info.tensor_shape.unknown_rank else tuple(
                None if d.size < 0 else d.size for d in info.tensor_shape.dim)
            out[key] = {"tensor": info.name, "dtype": dtype_name(info.dtype),
                        "shape": format_shape(shape)}
        return out

    return {key: {"method": sig.method_name, "inputs": side(sig.inputs),
                  "outputs": side(sig.outputs)}
            for key, sig in sorted(meta_graph.signature_def.items())
            if not key.startswith("__")}


def signature_lines(signatures: dict[str, Any]) -> list[str]:
    """``signatures_json`` as `signet inspect` prints it (nothing when there are none)."""
    lines = ["Signatures"] if signatures else []
    for key, sig in signatures.items():
        lines.append(f"  {key}  ({sig['method'].rsplit('/', 1)[-1]})")
        for side in ("inputs", "outputs"):
            for name, info in sig[side].items():
                lines.append(f"    {side[:-1]:<6} {name:<20} {info['tensor']:<32} "
                             f"{info['dtype']:<8} {info['shape']}")
    return lines


def draft_from_signatures(loaded: Any) -> Any:
    """The SavedModel's own signatures as a draft that re-exports as its next version.

    None for a checkpoint. Base and name point at the model folder the version sits
    in, so the export lands next to it (TensorFlow Serving picks up the new version).
    """
    if not is_saved_model(loaded):
        return None
    methods = {name: short for short, name in METHOD_NAMES.items()}
    signatures = []
    for key, sig in signatures_json(loaded.graph.meta_graph).items():
        sides = [[Slot(name, info["tensor"], info["dtype"], info["shape"])
                  for name, info in sig[side].items()] for side in ("inputs", "outputs")]
        signatures.append(Signature(key, methods.get(sig["method"], "predict"), *sides))
    if not signatures:
        return None
    draft = Draft(signatures)
    version = loaded.files.prefix.parent.parent
    draft.options.base, draft.options.name = str(version.parent.parent), version.parent.name
    return draft
