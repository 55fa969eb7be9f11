"""Is a new export a breaking change for the clients of the version before it?

A TensorFlow Serving client sends named inputs of a dtype and rank and reads named
outputs. When a new version renames or drops an input, adds one the client does not
send, changes a dtype or a rank, or drops an output or a whole signature, every
client breaks the moment the new version loads (tensorflow/serving#1404). A watch
checks this *before* exporting, from the draft's tensors in the checkpoint's graph,
against what the previous version's ``saved_model.pb`` serves.

Facts are plain JSON (``{key: {"method", "inputs": {k: {"dtype", "rank", "shape"}},
"outputs": {...}}}``) so the watch state keeps them per version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.dtypes import base_dtype, dtype_name
from app.core.graph.opgraph import OpGraph, format_shape
from app.core.signature.draft import Draft, tensor_name

Facts = dict[str, dict[str, Any]]


def _info_facts(info: Any) -> dict[str, Any]:
    shape = info.tensor_shape
    dims = None if shape.unknown_rank else tuple(None if d.size < 0 else d.size
                                                 for d in shape.dim)
    return {"dtype": dtype_name(info.dtype), "rank": None if dims is None else len(dims),
            "shape": format_shape(dims)}


def facts_of_signature_defs(signature_defs: dict[str, Any]) -> Facts:
    """Facts of SignatureDef protos (an export's, or a SavedModel's)."""
    return {key: {"method": sig.method_name,
                  "inputs": {k: _info_facts(v) for k, v in sig.inputs.items()},
                  "outputs": {k: _info_facts(v) for k, v in sig.outputs.items()}}
            for key, sig in signature_defs.items()}


def facts_of_saved_model(version_folder: Path) -> Facts | None:
    """Facts of the ``serve`` meta graph in ``version_folder/saved_model.pb`` (None when
    there is no readable binary SavedModel there)."""
    from app.core.graph.protos import SavedModel

    try:
        data = (version_folder / "saved_model.pb").read_bytes()
        saved = SavedModel.FromString(data)
    except (OSError, ValueError):
        return None
    for meta in saved.meta_graphs:
        if "serve" in meta.meta_info_def.tags:
            return facts_of_signature_defs(dict(meta.signature_def))
    return None


def facts_of_draft(draft: Draft, graph: OpGraph) -> Facts:
    """What exporting ``draft`` will serve, from the tensors in the checkpoint's graph."""
    method_names = {"predict": "tensorflow/serving/predict",
                    "classify": "tensorflow/serving/classify",
                    "regress": "tensorflow/serving/regress"}
    facts: Facts = {}
    for sig in draft.signatures:
        sides: dict[str, Any] = {"method": method_names.get(sig.method, sig.method)}
        for side, slots in (("inputs", sig.inputs), ("outputs", sig.outputs)):
            sides[side] = {}
            for slot in slots:
                tensor = graph.tensor(tensor_name(slot.tensor))
                if tensor is None:
                    continue
                sides[side][slot.key] = {
                    "dtype": base_dtype(tensor.dtype),
                    "rank": None if tensor.shape is None else len(tensor.shape),
                    "shape": tensor.shape_text}
        facts[sig.key] = sides
    return facts


def breaking_changes(old: Facts, new: Facts) -> list[str]:
    """What in ``new`` breaks a client of ``old``, one phrase per change (empty: none)."""
    changes = []
    for key, was in sorted(old.items()):
        now = new.get(key)
        if now is None:
            changes.append(f"signature {key!r} removed")
            continue
        for name in sorted(set(was["inputs"]) - set(now["inputs"])):
            changes.append(f"input {name!r} of {key!r} renamed or removed")
        for name in sorted(set(now["inputs"]) - set(was["inputs"])):
            changes.append(f"input {name!r} of {key!r} added (clients do not send it)")
        for name in sorted(set(was["outputs"]) - set(now["outputs"])):
            changes.append(f"output {name!r} of {key!r} removed")
        for side in ("inputs", "outputs"):
            for name in sorted(set(was[side]) & set(now[side])):
                a, b = was[side][name], now[side][name]
                if a["dtype"] != b["dtype"]:
                    changes.append(f"{side[:-1]} {name!r} of {key!r}: dtype "
                                   f"{a['dtype']} → {b['dtype']}")
                if a["rank"] is not None and b["rank"] is not None and a["rank"] != b["rank"]:
                    changes.append(f"{side[:-1]} {name!r} of {key!r}: rank "
                                   f"{a['rank']} → {b['rank']} ({a['shape']} → {b['shape']})")
    return changes


def describe(facts: Facts) -> str:
    """One line per signature: ``key: in dtype shape, … → out dtype shape, …``."""
    lines = []
    for key, sig in sorted(facts.items()):
        def side(slots: dict[str, Any]) -> str:
            return ", ".join(f"{k} {v['dtype']} {v['shape']}" for k, v in sorted(slots.items()))
        lines.append(f"{key}: {side(sig['inputs'])} → {side(sig['outputs'])}")
    return "; ".join(lines)
