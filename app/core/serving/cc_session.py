"""A SavedModel loaded by TensorFlow's C++ loader, as TensorFlow Serving loads a version.

TensorFlow Serving calls the C++ ``LoadSavedModel``: one session created over the
whole ``serve`` graph (every node placed), the variables restored, the main op run
with the assets' paths fed. TensorFlow's Python loader does the same steps but first
builds a Python ``Operation`` for every node (about 0.8 s of the load at 13k ops),
which nothing here needs: the checks fetch tensors by name. TensorFlow's C API
reaches the C++ loader (``TF_LoadSessionFromSavedModel``) and runs by name
(``TF_SessionRun``); TensorFlow 2.21's Python binding exposes neither, so this
module calls them from the library Python's TensorFlow already loaded, with ctypes.
Each call leaves Python's lock free while TensorFlow works.

- ``CcSession(folder, tags, config=None)``: loads; ``.meta_graph`` (the loaded
  MetaGraphDef), ``.run(fetches, feeds) -> [array]`` by tensor name, feeds converted
  to their placeholder's dtype as ``tf.compat.v1.Session.run`` does and failures raised
  as TensorFlow's own ``OpError`` classes, ``.graph`` (a Python ``tf.Graph`` of the same
  MetaGraphDef, built on first use: only the failure messages walk ops), ``.close()``.
- Load failures raise the ``OpError`` TensorFlow's status names.
- ``c_api()``, ``session_options``, ``to_tensor``/``to_array``/``free_run``, ``refuse_shape``,
  ``python_graph``, ``raise_if_failed``: the pieces `app.core.serving.staged_session` shares.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

_TSTRING_SIZE = 24  # sizeof(TF_TString)
_STRING = 7  # TF_STRING
_P = ctypes.c_void_p


class _Output(ctypes.Structure):
    _fields_ = [("oper", _P), ("index", ctypes.c_int)]


class _Buffer(ctypes.Structure):
    _fields_ = [("data", _P), ("length", ctypes.c_size_t), ("dealloc", _P)]


_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "TF_NewGraph": (_P, []),
    "TF_DeleteGraph": (None, [_P]),
    "TF_NewStatus": (_P, []),
    "TF_DeleteStatus": (None, [_P]),
    "TF_GetCode": (ctypes.c_int, [_P]),
    "TF_Message": (ctypes.c_char_p, [_P]),
    "TF_NewBuffer": (ctypes.POINTER(_Buffer), []),
    "TF_DeleteBuffer": (None, [ctypes.POINTER(_Buffer)]),
    "TF_NewSessionOptions": (_P, []),
    "TF_DeleteSessionOptions": (None, [_P]),
    "TF_SetConfig": (None, [_P, ctypes.c_char_p, ctypes.c_size_t, _P]),
    "TF_LoadSessionFromSavedModel": (_P, [_P, _P, ctypes.c_char_p,
                                          ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, _P,
                                          ctypes.POINTER(_Buffer), _P]),
    "TF_CloseSession": (None, [_P, _P]),
    "TF_DeleteSession": (None, [_P, _P]),
    "TF_GraphOperationByName": (_P, [_P, ctypes.c_char_p]),
    "TF_OperationNumOutputs": (ctypes.c_int, [_P]),
    "TF_OperationOutputType": (ctypes.c_int, [_Output]),
    "TF_GraphGetTensorNumDims": (ctypes.c_int, [_P, _Output, _P]),
    "TF_GraphGetTensorShape": (None, [_P, _Output, ctypes.POINTER(ctypes.c_int64), ctypes.c_int,
                                      _P]),
    "TF_SessionRun": (None, [_P, _P, ctypes.POINTER(_Output), ctypes.POINTER(_P), ctypes.c_int,
                             ctypes.POINTER(_Output), ctypes.POINTER(_P), ctypes.c_int,
                             _P, ctypes.c_int, _P, _P]),
    "TF_AllocateTensor": (_P, [ctypes.c_int, ctypes.POINTER(ctypes.c_int64), ctypes.c_int,
                               ctypes.c_size_t]),
    "TF_DeleteTensor": (None, [_P]),
    "TF_TensorData": (_P, [_P]),
    "TF_TensorByteSize": (ctypes.c_size_t, [_P]),
    "TF_TensorType": (ctypes.c_int, [_P]),
    "TF_NumDims": (ctypes.c_int, [_P]),
    "TF_Dim": (ctypes.c_int64, [_P, ctypes.c_int]),
    "TF_StringInit": (None, [_P]),
    "TF_StringCopy": (None, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "TF_StringGetDataPointer": (_P, [_P]),
    "TF_StringGetSize": (ctypes.c_size_t, [_P]),
    "TF_StringDealloc": (None, [_P]),
    # The session without a client-side graph (`StagedSession`): extended with a
    # GraphDef's bytes as the loader's Session::Create is, run by tensor and op names.
    "TF_NewDeprecatedSession": (_P, [_P, _P]),
    "TF_ExtendGraph": (None, [_P, ctypes.c_char_p, ctypes.c_size_t, _P]),
    "TF_Run": (None, [_P, _P, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(_P), ctypes.c_int,
                      ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(_P), ctypes.c_int,
                      ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, _P, _P]),
    "TF_CloseDeprecatedSession": (None, [_P, _P]),
    "TF_DeleteDeprecatedSession": (None, [_P, _P]),
}
_lib: Any = None


def c_api() -> Any:
    """TensorFlow's C API, from the library its Python package already loaded."""
    global _lib
    if _lib is None:
        from app.core.tf_runtime import tensorflow

        tf = tensorflow()
        lib = ctypes.CDLL(os.path.join(os.path.dirname(tf.__file__), "libtensorflow_cc.so.2"))
        for name, (result, args) in _SIGNATURES.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = result, args
        _lib = lib
    return _lib


def raise_if_failed(status: Any) -> None:
    from tensorflow.python.framework import errors_impl

    lib = c_api()
    code = lib.TF_GetCode(status)
    if code:
        message = (lib.TF_Message(status) or b"").decode("utf-8", "replace")
        raise errors_impl.exception_type_from_error_code(code)(None, None, message)


def _split(name: str) -> tuple[str, int]:
    op, _, index = name.partition(":")
    return op, int(index or 0)


class CcSession:
    """One SavedModel meta graph loaded by the C++ loader (see module doc)."""

    def __init__(self, folder: str | os.PathLike[str], tags: Sequence[str],
                 config: Any = None) -> None:
        from tensorflow.core.protobuf import meta_graph_pb2

        lib = c_api()
        self._graph = lib.TF_NewGraph()
        self._session = None
        self._python_graph: Any = None
        status = lib.TF_NewStatus()
        meta = lib.TF_NewBuffer()
        try:
            names = (ctypes.c_char_p * len(tags))(*[t.encode() for t in tags])
            with session_options(config) as options:
                self._session = lib.TF_LoadSessionFromSavedModel(
                    options, None, str(Path(folder)).encode(), names, len(tags), self._graph,
                    meta, status)
            raise_if_failed(status)
            self.meta_graph = meta_graph_pb2.MetaGraphDef.FromString(
                ctypes.string_at(meta.contents.data, meta.contents.length))
        except BaseException:
            self.close()
            raise
        finally:
            lib.TF_DeleteBuffer(meta)
            lib.TF_DeleteStatus(status)

    @property
    def graph(self) -> Any:
        """The loaded graph as a Python ``tf.Graph`` (built once, for failure messages)."""
        if self._python_graph is None:
            self._python_graph = python_graph(self.meta_graph)
        return self._python_graph

    def _output(self, name: str) -> _Output:
        op_name, index = _split(name)
        op = c_api().TF_GraphOperationByName(self._graph, op_name.encode())
        if not op or index >= c_api().TF_OperationNumOutputs(op):
            raise KeyError(f"The name '{name}' refers to a Tensor which does not exist.")
        return _Output(op, index)

    def run(self, fetches: Sequence[str], feeds: dict[str, Any]) -> list[Any]:
        """The ``fetches`` (tensor names) for ``feeds`` (tensor name -> value)."""
        lib = c_api()
        if self._session is None:
            raise RuntimeError("Attempted to use a closed Session.")
        inputs = [self._output(name) for name in feeds]
        outputs = [self._output(name) for name in fetches]
        tensors: list[Any] = []
        results = (_P * len(outputs))()
        status = lib.TF_NewStatus()
        try:
            for name, output, value in zip(feeds, inputs, feeds.values(), strict=True):
                tensor = to_tensor(value, lib.TF_OperationOutputType(output))
                tensors.append(tensor)
                self._check_shape(name, output, tensor, status)
            lib.TF_SessionRun(
                self._session, None, (_Output * len(inputs))(*inputs),
                (_P * len(tensors))(*tensors), len(inputs),
                (_Output * len(outputs))(*outputs), results, len(outputs),
                None, 0, None, status)
            raise_if_failed(status)
            return [to_array(tensor) for tensor in results]
        finally:
            free_run(tensors, results)
            lib.TF_DeleteStatus(status)

    def _check_shape(self, name: str, output: _Output, tensor: Any, status: Any) -> None:
        """Refuse a feed its tensor's static shape rules out, as ``Session.run`` does: a
        kernel handed a rank it never expects may abort the whole process instead of failing.
        """
        lib = c_api()
        rank = lib.TF_GraphGetTensorNumDims(self._graph, output, status)
        raise_if_failed(status)
        if rank < 0:
            return
        want = (ctypes.c_int64 * rank)()
        lib.TF_GraphGetTensorShape(self._graph, output, want, rank, status)
        raise_if_failed(status)
        refuse_shape(name, list(want), tensor)

    def __del__(self) -> None:
        # At interpreter shutdown the library may be gone: then there is nothing to free.
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        """Close and free the session and its graph (again: nothing)."""
        lib = c_api()
        status = lib.TF_NewStatus()
        try:
            if self._session is not None:
                lib.TF_CloseSession(self._session, status)
                lib.TF_DeleteSession(self._session, status)
                self._session = None
            if self._graph is not None:
                lib.TF_DeleteGraph(self._graph)
                self._graph = None
        finally:
            lib.TF_DeleteStatus(status)


@contextlib.contextmanager
def session_options(config: Any) -> Iterator[Any]:
    """TF_SessionOptions holding ``config`` (a ConfigProto, or None: the defaults), freed
    on the way out (a session keeps its own copy)."""
    lib = c_api()
    options = lib.TF_NewSessionOptions()
    status = lib.TF_NewStatus()
    try:
        if config is not None:
            raw = config.SerializeToString()
            lib.TF_SetConfig(options, raw, len(raw), status)
            raise_if_failed(status)
        yield options
    finally:
        lib.TF_DeleteStatus(status)
        lib.TF_DeleteSessionOptions(options)


def python_graph(meta_graph: Any) -> Any:
    """``meta_graph`` imported as a Python ``tf.Graph`` (only failure messages walk ops)."""
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(meta_graph)
    return graph


def refuse_shape(name: str, want: list[int], tensor: Any) -> None:
    """Raise ``Session.run``'s ValueError when ``tensor`` cannot feed a tensor of static
    shape ``want`` (``-1``: any size)."""
    lib = c_api()
    got = tuple(lib.TF_Dim(tensor, i) for i in range(lib.TF_NumDims(tensor)))
    if len(got) != len(want) or any(w >= 0 and w != g for w, g in zip(want, got, strict=False)):
        shape = "(" + ", ".join("None" if w < 0 else str(w) for w in want) + \
            ("," if len(want) == 1 else "") + ")"
        raise ValueError(f"Cannot feed value of shape {got} for Tensor {name}, which has "
                         f"shape {shape}")


def feed_dtype(dtype_enum: int) -> Any:
    """The TensorFlow dtype a feed of a tensor typed ``dtype_enum`` is allocated with.

    A ref variable's output is typed ``*_REF`` (101 and up); a tensor of that type
    makes TensorFlow abort the whole process, so the feed takes the base type, as
    ``Session.run`` does. Types whose values are no plain bytes (a resource handle, a
    variant) cannot be fed at all: a `TypeError` names them instead of a crash.
    """
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    try:
        dtype = tf.dtypes.as_dtype(dtype_enum).base_dtype
    except TypeError as exc:
        raise TypeError(f"cannot feed a tensor of unknown type {dtype_enum}") from exc
    if dtype in (tf.resource, tf.variant) or dtype.as_datatype_enum == 0:
        raise TypeError(f"cannot feed a tensor of type {dtype.name}: TensorFlow Serving "
                        "takes numbers, booleans and strings")
    return dtype


def to_tensor(value: Any, dtype_enum: int) -> Any:
    """A new TF_Tensor holding ``value`` as the placeholder's dtype (as Session.run converts).

    A rank-0 ``value`` stays rank 0 (``np.ascontiguousarray`` would make it ``(1,)``).
    """
    import numpy as np

    lib = c_api()
    dtype = feed_dtype(dtype_enum)
    dtype_enum = dtype.as_datatype_enum
    if dtype_enum == _STRING:
        array = np.asarray(value, dtype=object)
        dims = (ctypes.c_int64 * array.ndim)(*array.shape)
        tensor = lib.TF_AllocateTensor(_STRING, dims, array.ndim, _TSTRING_SIZE * array.size)
        base = lib.TF_TensorData(tensor)
        for i, item in enumerate(array.ravel()):
            raw = item.encode("utf-8") if isinstance(item, str) else bytes(item)
            lib.TF_StringInit(base + i * _TSTRING_SIZE)
            lib.TF_StringCopy(base + i * _TSTRING_SIZE, raw, len(raw))
        return tensor
    array = np.asarray(value, dtype=dtype.as_numpy_dtype, order="C")
    dims = (ctypes.c_int64 * array.ndim)(*array.shape)
    tensor = lib.TF_AllocateTensor(dtype_enum, dims, array.ndim, array.nbytes)
    if array.nbytes:
        ctypes.memmove(lib.TF_TensorData(tensor), array.ctypes.data, array.nbytes)
    return tensor


def to_array(tensor: Any) -> Any:
    """A numpy copy of a TF_Tensor (strings as an object array of bytes)."""
    import numpy as np

    from app.core.tf_runtime import tensorflow

    lib = c_api()
    shape = tuple(lib.TF_Dim(tensor, i) for i in range(lib.TF_NumDims(tensor)))
    kind = lib.TF_TensorType(tensor)
    base = lib.TF_TensorData(tensor)
    if kind == _STRING:
        count = int(np.prod(shape, dtype=np.int64))
        items = [ctypes.string_at(lib.TF_StringGetDataPointer(base + i * _TSTRING_SIZE),
                                  lib.TF_StringGetSize(base + i * _TSTRING_SIZE))
                 for i in range(count)]
        out = np.empty(count, dtype=object)
        out[:] = items
        return out.reshape(shape)
    dtype = np.dtype(tensorflow().dtypes.as_dtype(kind).as_numpy_dtype)
    size = lib.TF_TensorByteSize(tensor)
    if not size:
        return np.zeros(shape, dtype)
    raw = (ctypes.c_char * size).from_address(base)
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def free_run(fed: list[Any], fetched: Any) -> None:
    """Free a run's tensors: those fed (with the strings copied into them) and those fetched."""
    for tensor in fed:
        delete_tensor(tensor, owned_strings=True)
    for tensor in fetched:
        if tensor:
            delete_tensor(tensor, owned_strings=False)


def delete_tensor(tensor: Any, owned_strings: bool) -> None:
    """Free a TF_Tensor; the strings this module copied into one are freed first."""
    lib = c_api()
    if owned_strings and lib.TF_TensorType(tensor) == _STRING:
        base = lib.TF_TensorData(tensor)
        for i in range(lib.TF_TensorByteSize(tensor) // _TSTRING_SIZE):
            lib.TF_StringDealloc(base + i * _TSTRING_SIZE)
    lib.TF_DeleteTensor(tensor)
