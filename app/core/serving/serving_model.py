"""A SavedModel loaded the way TensorFlow Serving loads a version, ready to answer requests.

TensorFlow Serving loads the ``serve`` meta graph into one session (restoring the
variables and running the main op) and feeds each request's tensors to the
signature's input names. `ServingModel` does the same with the server's own C++
loader (`app.core.serving.cc_session`), so `signet run`, verification and the warmup replay
see what the server would.

- ``model_version_folder(path) -> Path | None``: a version folder (holds
  ``saved_model.pb``), its ``saved_model.pb`` itself, or a model folder (its highest
  integer version).
- ``ServingModel(folder, beside=None)``: ``.signatures`` (key -> SignatureDef),
  ``.input_dtypes(key)``, ``.run(key, inputs) -> {alias: array}``
  (raises `RestError` in the server's words), ``.close()``; a context manager.
  ``.session`` and ``.meta_graph`` let the export's verification and warmup
  replay share this one load (runs by tensor name); ``beside`` runs the export's
  checkpoint side just before it.
  A refused load raises `CannotLoad` (an `ExportError`).
- ``answer(model, body) -> (text, ok)``: a REST ``:predict`` body in, the server's
  response text out (``{"error": …}`` when not ok); ``respond`` also gives the arrays.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.disk.plain_path import plain_folder
from app.core.errors import ExportError, error_line
from app.core.serving.rest import RestError, error_response, parse_predict_body, predict_response

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def _is_version(folder: Path) -> bool:
    return any((folder / name).is_file() for name in SAVED_MODEL_FILES)


def model_version_folder(path: str | os.PathLike[str]) -> Path | None:
    """The SavedModel folder ``path`` names (itself, the folder of its ``saved_model.pb``,
    or its newest version), or None."""
    folder = Path(path)
    if folder.name in SAVED_MODEL_FILES and folder.is_file():
        return folder.parent
    if not folder.is_dir():
        return None
    if _is_version(folder):
        return folder
    numbered = sorted((int(p.name), p) for p in folder.iterdir()
                      if p.is_dir() and p.name.isdigit() and _is_version(p))
    return numbered[-1][1] if numbered else None


class CannotLoad(ExportError):
    """TensorFlow's loader refused the SavedModel (not an error of ``beside`` work)."""


class ServingModel:
    """One loaded ``serve`` meta graph and its session (see module doc)."""

    def __init__(self, folder: str | os.PathLike[str], pruned_placement: bool = False,
                 beside: Callable[[], Any] | None = None, staged: Any = None) -> None:
        """``pruned_placement``: place only what each run needs, not the whole graph as TF
        Serving does (the export checks whole-graph placement itself, `export.kernels`).
        ``beside``: work done just before the load (the export's checkpoint side, which
        frees the checkpoint's weights), so memory holds one copy of the weights at a
        time; its error is raised as it is. ``staged``: a `StagedSession` created from
        the GraphDef this folder holds (`stage`): it finishes the load when it can, and
        is closed and the folder loaded as usual when it cannot."""
        from app.core.tf_runtime import tensorflow

        self.folder = Path(folder)
        self._tf = tensorflow()
        config = session_config(pruned_placement)
        if beside is not None:
            try:
                beside()
            except BaseException:
                if staged is not None:
                    staged.close()
                raise
        with plain_folder(self.folder) as readable:  # TF's restore reads it as a pattern
            self._session = self._staged(staged, readable) if staged is not None else None
            if self._session is None:
                self._session = self._load(config, readable)
        self.meta_graph = self._session.meta_graph  # the loaded MetaGraphDef
        self.signatures: dict[str, Any] = dict(self.meta_graph.signature_def)

    def _staged(self, staged: Any, readable: Path) -> Any:
        """``staged`` loaded from this folder (at ``readable``), or None (closed) when it
        cannot be."""
        try:
            return staged.load(readable, [self._tf.compat.v1.saved_model.tag_constants.SERVING])
        except Exception:  # `NotStaged`, or anything else: the C++ loader has the last word
            staged.close()
            return None

    def _load(self, config: Any, readable: Path) -> Any:
        """TensorFlow Serving's own C++ loader (`CcSession`) on this folder (at
        ``readable``); a refusal is one line."""
        from app.core.serving.cc_session import CcSession

        try:
            return CcSession(readable, [self._tf.compat.v1.saved_model.tag_constants.SERVING],
                             config)
        except Exception as exc:
            raise CannotLoad(f"{self.folder}: TensorFlow cannot load this SavedModel "
                             f"({error_line(exc)}); export it again") from exc

    @property
    def session(self) -> Any:
        """The loaded session: the export's checks run on it instead of loading again."""
        return self._session

    def __enter__(self) -> ServingModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def input_dtypes(self, key: str) -> dict[str, str]:
        return {name: self._dtype_name(info.dtype)
                for name, info in self.signatures[key].inputs.items()}

    def _dtype_name(self, enum: int) -> str:
        """``float32``…; a number no dtype has is named as TensorFlow's DataTypeString
        names it, so a crafted SignatureDef gets the server's "to type: …" refusal."""
        try:
            return self._tf.dtypes.as_dtype(enum).name
        except TypeError:
            return f"unknown dtype enum ({enum})"

    def run(self, key: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Every output of signature ``key`` for ``inputs`` (alias -> array)."""
        sig = self.signatures.get(key)
        if sig is None:
            raise RestError(f'Serving signature key "{key}" not found.')
        missing = sorted(set(sig.inputs) - set(inputs))
        extra = sorted(set(inputs) - set(sig.inputs))
        if missing or extra:
            sent, want = sorted(inputs), sorted(sig.inputs)
            raise RestError(
                f"input size does not match signature: {len(sent)}!={len(want)} "
                f"len({{{','.join(sent)}}}) != len({{{','.join(want)}}}). Sent extra: "
                f"{{{','.join(extra)}}}. Missing but required: {{{','.join(missing)}}}.")
        aliases = sorted(sig.outputs)
        feeds = {sig.inputs[k].name: v for k, v in inputs.items()}
        try:
            values = self._session.run([sig.outputs[a].name for a in aliases], feeds)
        except self._tf.errors.OpError as exc:
            raise RestError(op_error_text(exc.message)) from exc
        except (ValueError, TypeError) as exc:  # a feed TensorFlow refuses before running
            raise RestError(error_line(exc)) from exc
        except KeyError as exc:  # a SignatureDef naming a tensor the graph does not have
            raise RestError(str(exc.args[0])) from exc
        return dict(zip(aliases, values, strict=True))


def session_config(pruned_placement: bool = False) -> Any:
    """The session options of every load here: TensorFlow's defaults, as TF Serving's, with
    the whole graph placed unless ``pruned_placement``."""
    from app.core.tf_runtime import tensorflow

    config = tensorflow().compat.v1.ConfigProto()
    config.graph_options.place_pruned_graph = pruned_placement
    return config


def stage(graph_def: Any, graph_def_bytes: bytes) -> Any:
    """A `StagedSession` over ``graph_def`` with `ServingModel`'s options, for ``staged``."""
    from app.core.serving.staged_session import StagedSession

    return StagedSession(graph_def, graph_def_bytes, session_config())


def op_error_text(message: str) -> str:
    """The runtime's own status message, without the Python client's preamble.

    The Python session prefixes "Graph execution error:" and the Python stack where
    the failing op was defined; the server reports only the kernel's message.
    """
    lines = message.strip().splitlines()
    if lines and lines[0].startswith("Graph execution error"):
        nodes = [i for i, line in enumerate(lines) if line.startswith("Node: ")]
        lines = lines[nodes[-1] + 1:] if nodes else lines[1:]
    return "\n".join(line for line in lines if line.strip()) or message.strip()


def respond(model: ServingModel, body: str | bytes) -> tuple[str, bool, dict[str, Any]]:
    """The server's answer text for ``body``, whether it is not an error, and the outputs."""
    try:
        signatures = {k: model.input_dtypes(k) for k in model.signatures}
        request = parse_predict_body(body, signatures)
        outputs = model.run(request.signature, request.inputs)
        return predict_response(outputs, request.columnar), True, outputs
    except RestError as exc:
        return error_response(str(exc)), False, {}


def answer(model: ServingModel, body: str | bytes) -> tuple[str, bool]:
    """The text TF Serving's REST API answers for ``body``; False when it is an error."""
    text, ok, _ = respond(model, body)
    return text, ok
