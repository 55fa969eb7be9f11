"""TensorFlow Serving's load of a SavedModel, split so its slow half runs before the files exist.

The C++ loader (``LoadSavedModel``, what `cc_session.CcSession` calls) does three
things: it creates a session over the ``serve`` meta graph's GraphDef
(``Session::Create``: the graph is built and every node placed, over a second on a
ResNet-50 with its Adam state), restores the variables with the saver's restore op,
and runs the main op with the assets' paths fed. Only the last two need the written
files. The export knows the GraphDef before it writes anything, so it hands it to
`StagedSession` while the variables are still being written, and `load` does the
rest once the SavedModel is complete.

`load` is the loader's own steps on the written folder: it reads ``saved_model.pb``,
takes the meta graph whose tags are exactly the ones asked for, and goes on only if
that meta graph's GraphDef is byte for byte the one the session was created with
(deterministic serialization); then it restores as the loader does (nothing when
``variables/variables.index`` is absent), and runs the init op the loader would pick
(the ``__saved_model_init_op`` signature, else the ``saved_model_main_op``, else the
``legacy_init_op`` collection) with the assets' paths fed. Anything else, or any
failure on the way, raises `NotStaged`: the caller then loads the folder with the
C++ loader itself, whose answer (or error) is the authoritative one. So a staged
load only ever makes a load the server would do faster; it never decides alone that
a model loads.

The session is TensorFlow's C API session without a client-side graph
(``TF_NewDeprecatedSession``, ``TF_ExtendGraph``, ``TF_Run``), run by tensor names,
so no second copy of the graph is built for name lookups either.

- ``StagedSession(graph_def, graph_def_bytes, config=None)``: creates the session
  (slow; any thread: each C call leaves Python's lock free).
- ``.load(folder, tags)``: the rest of the load, or `NotStaged`. Then ``.meta_graph``,
  ``.run(fetches, feeds)`` (feeds converted and shape-checked as `CcSession.run` does,
  by the placeholders' and signatures' dtypes and shapes), ``.graph``, ``.close()``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.core.errors import error_line
from app.core.serving.cc_session import (
    c_api,
    free_run,
    python_graph,
    raise_if_failed,
    refuse_shape,
    session_options,
    to_array,
    to_tensor,
)

_P = ctypes.c_void_p
_INIT_OP_SIGNATURE = "__saved_model_init_op"
_MAIN_OP = "saved_model_main_op"
_LEGACY_INIT_OP = "legacy_init_op"
_ASSETS = "saved_model_assets"


class NotStaged(Exception):
    """The staged session cannot finish this load: load the folder as usual."""


def _names(items: Sequence[str]) -> Any:
    return (ctypes.c_char_p * len(items))(*[item.encode() for item in items])


def _valid_saved_tensors(graph_def: Any) -> bool:
    """The loader's ``ValidateSavedTensors``: every constant has a value of known size."""
    nodes = list(graph_def.node)
    for function in graph_def.library.function:
        nodes += function.node_def
    for node in nodes:
        if "value" in node.attr:
            value = node.attr["value"]
            if value.HasField("tensor") and any(d.size < 0 for d in value.tensor.tensor_shape.dim):
                return False
        elif node.op == "Const":
            return False
    return True


class StagedSession:
    """A session created over a GraphDef now, loaded from its SavedModel later (module doc)."""

    def __init__(self, graph_def: Any, graph_def_bytes: bytes, config: Any = None) -> None:
        """``graph_def``: the GraphDef proto; ``graph_def_bytes``: it, serialized
        deterministically (what the written one is compared with)."""
        lib = c_api()
        self._bytes = graph_def_bytes
        self._session: Any = None
        self._python_graph: Any = None
        self.meta_graph: Any = None
        self._feeds: dict[str, tuple[int, list[int] | None]] = {}
        if not _valid_saved_tensors(graph_def):
            raise NotStaged("a constant without a value of known size")
        self._placeholders(graph_def)
        status = lib.TF_NewStatus()
        try:
            with session_options(config) as options:
                self._session = lib.TF_NewDeprecatedSession(options, status)
            raise_if_failed(status)
            lib.TF_ExtendGraph(self._session, graph_def_bytes, len(graph_def_bytes), status)
            raise_if_failed(status)
        except BaseException:
            self.close()
            raise
        finally:
            lib.TF_DeleteStatus(status)

    def _placeholders(self, graph_def: Any) -> None:
        """Feedable tensors' dtype and static shape, as the client graph would know them."""
        for node in graph_def.node:
            if node.op in ("Placeholder", "PlaceholderWithDefault"):
                shape = node.attr["shape"].shape if "shape" in node.attr else None
                dims = None if shape is None or shape.unknown_rank else \
                    [d.size for d in shape.dim]
                self._feeds[f"{node.name}:0"] = (node.attr["dtype"].type, dims)

    def load(self, folder: str | os.PathLike[str], tags: Sequence[str]) -> StagedSession:
        """Restore and run the init op from ``folder`` (see module doc); `NotStaged` if not."""
        from tensorflow.core.protobuf import saved_model_pb2

        folder = Path(folder)
        try:
            saved = saved_model_pb2.SavedModel.FromString((folder / "saved_model.pb").read_bytes())
        except Exception as exc:
            raise NotStaged(f"saved_model.pb: {exc}") from exc
        metas = [m for m in saved.meta_graphs if set(m.meta_info_def.tags) == set(tags)]
        if len(metas) != 1:
            raise NotStaged("no single meta graph with these tags")
        meta = metas[0]
        if meta.graph_def.SerializeToString(deterministic=True) != self._bytes:
            raise NotStaged("the written graph is not the staged one")
        self.meta_graph = meta
        for key, sig in meta.signature_def.items():
            if key == _INIT_OP_SIGNATURE:
                continue
            for info in sig.inputs.values():
                shape = None if info.tensor_shape.unknown_rank else \
                    [d.size for d in info.tensor_shape.dim]
                self._feeds.setdefault(info.name, (info.dtype, shape))
        assets = self._asset_feeds(folder, meta)
        try:
            index = folder / "variables" / "variables.index"
            if meta.HasField("saver_def") and index.is_file():
                self._run_targets({meta.saver_def.filename_tensor_name:
                                   str(folder / "variables" / "variables"), **assets},
                                  [meta.saver_def.restore_op_name])
            init_op = self._init_op(meta)
            if init_op:
                self._run_targets(assets, [init_op])
        except Exception as exc:
            raise NotStaged(error_line(exc)) from exc
        return self

    @staticmethod
    def _asset_feeds(folder: Path, meta: Any) -> dict[str, str]:
        """Each asset's tensor -> its path in ``folder/assets`` (the loader's feeds)."""
        from tensorflow.core.protobuf import meta_graph_pb2

        defs = list(meta.asset_file_def)
        if not defs and _ASSETS in meta.collection_def:
            for any_value in meta.collection_def[_ASSETS].any_list.value:
                asset = meta_graph_pb2.AssetFileDef()
                any_value.Unpack(asset)
                defs.append(asset)
        return {d.tensor_info.name: str(folder / "assets" / d.filename) for d in defs}

    @staticmethod
    def _init_op(meta: Any) -> str:
        """The init op the loader runs (``GetInitOp``); '' when there is none."""
        sig = meta.signature_def.get(_INIT_OP_SIGNATURE)
        if sig is not None:
            if _INIT_OP_SIGNATURE not in sig.outputs:
                raise NotStaged("an init op signature without its output")
            return sig.outputs[_INIT_OP_SIGNATURE].name
        key = _MAIN_OP if _MAIN_OP in meta.collection_def else _LEGACY_INIT_OP
        if key not in meta.collection_def:
            return ""
        names = meta.collection_def[key].node_list.value
        if len(names) != 1:
            raise NotStaged(f"{key} holds {len(names)} ops")
        return names[0]

    def _run_targets(self, feeds: dict[str, str], targets: list[str]) -> None:
        import numpy as np

        self._run_raw({name: np.array(value.encode(), dtype=object) for name, value in
                       feeds.items()}, [], targets, check=False)

    @property
    def graph(self) -> Any:
        """The loaded graph as a Python ``tf.Graph`` (built once, for failure messages)."""
        if self._python_graph is None:
            self._python_graph = python_graph(self.meta_graph)
        return self._python_graph

    def run(self, fetches: Sequence[str], feeds: dict[str, Any]) -> list[Any]:
        """The ``fetches`` (tensor names) for ``feeds`` (tensor name -> value)."""
        return self._run_raw(feeds, list(fetches), [], check=True)

    def _run_raw(self, feeds: dict[str, Any], fetches: list[str], targets: list[str],
                 check: bool) -> list[Any]:
        from app.core.tf_runtime import tensorflow

        lib = c_api()
        if self._session is None:
            raise RuntimeError("Attempted to use a closed Session.")
        tensors: list[Any] = []
        results = (_P * len(fetches))()
        status = lib.TF_NewStatus()
        try:
            for name, value in feeds.items():
                if name not in self._feeds and check:
                    raise KeyError(f"The name '{name}' refers to a Tensor which is not a "
                                   "placeholder or a signature input.")
                dtype, shape = self._feeds.get(name, (tensorflow().string.as_datatype_enum,
                                                      None))
                tensor = to_tensor(value, dtype)
                tensors.append(tensor)
                if check and shape is not None:
                    refuse_shape(name, shape, tensor)
            lib.TF_Run(self._session, None, _names(list(feeds)), (_P * len(tensors))(*tensors),
                       len(tensors), _names(fetches), results, len(fetches),
                       _names(targets), len(targets), None, status)
            raise_if_failed(status)
            return [to_array(tensor) for tensor in results]
        finally:
            free_run(tensors, results)
            lib.TF_DeleteStatus(status)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown the library may be gone
            self.close()

    def close(self) -> None:
        """Close and free the session (again: nothing)."""
        if self._session is None:
            return
        lib = c_api()
        status = lib.TF_NewStatus()
        try:
            lib.TF_CloseDeprecatedSession(self._session, status)
            lib.TF_DeleteDeprecatedSession(self._session, status)
            self._session = None
        finally:
            lib.TF_DeleteStatus(status)
