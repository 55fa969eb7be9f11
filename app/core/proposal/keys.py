"""Slot keys named for what a tensor is, and whether an op's name was chosen by a person.

A client writes these keys in every request, so they say what the tensor is:
``images``, ``input_ids``, ``logits``, ``probabilities``, ``embeddings``. They come from a
name somebody chose (the placeholder's, the op's, the ``parse_example`` feature's) and
otherwise from the tensor's role; never from a name TensorFlow made up
(``IteratorGetNext``, ``Placeholder_2``, ``BiasAdd``, ``add_3``).

A name is TensorFlow's own when its leaf, without the ``_N`` TensorFlow appends, is the
op's type in any spelling TensorFlow uses (``Softmax``, ``softmax``, ``strided_slice``,
``concat`` for ``ConcatV2``), any op type of the same graph (``add`` on a ``AddV2``), or
the default name of a TensorFlow function that names its result op itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.core.graph.opgraph import Op, OpGraph

_SUFFIX = re.compile(r"_\d+$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_VERSION = re.compile(r"V\d+$")
# Default names of TensorFlow functions whose result op is named after the function.
_FUNCTION_DEFAULTS = frozenset({
    "add", "sub", "mul", "div", "truediv", "floordiv", "mod", "neg", "pow", "stack",
    "unstack", "concat", "transpose", "strided_slice", "l2_normalize", "dropout",
    "where", "zeros", "ones", "zeros_like", "ones_like", "range", "split", "packed",
    "embedding_lookup", "embedding_lookup_sparse", "einsum", "clip_by_value",
    "clip_by_norm", "norm", "moments", "batchnorm", "xw_plus_b", "one_hot", "gather",
    "expand_dims", "squeeze", "reshape", "cast", "tofloat", "toint32", "toint64",
    "todouble", "tobfloat16", "log_softmax", "softmax", "sigmoid", "tanh", "relu",
    "elu", "selu", "softplus", "leaky_relu", "gelu", "matmul", "tensordot", "read",
    "convolution", "conv2d", "identity",
    "sequence_mask", "boolean_mask", "fill", "tile", "pad", "argmax", "argmin",
    "reduce_mean", "reduce_sum", "mean", "sum", "max", "min", "prod", "square",
    "sqrt", "rsqrt", "exp", "log", "abs", "maximum", "minimum", "select", "while",
    "cond", "merge", "switch", "exit", "enter", "readvariableop", "tensorarraystack",
    "convert_image",
    "tensorarraygatherv3", "tensorarrayv3",
})
_NOT_KEY = re.compile(r"[^A-Za-z0-9_]")


def _spellings(op_type: str) -> set[str]:
    snake = _CAMEL.sub("_", op_type).lower()
    bare = _VERSION.sub("", op_type)
    return {op_type.lower(), snake, bare.lower(), _CAMEL.sub("_", bare).lower()}


class Namer:
    """Tells deliberate names from TensorFlow's in one graph (its op types known once)."""

    def __init__(self, graph: OpGraph) -> None:
        self._generic = set(_FUNCTION_DEFAULTS)
        for op_type in graph.type_positions:
            self._generic |= _spellings(op_type)

    def is_deliberate(self, op: Op) -> bool:
        """Whether ``op``'s own name (its leaf) was chosen by the program's author."""
        leaf = op.name.rsplit("/", 1)[-1]
        base = _SUFFIX.sub("", leaf).lower()
        return bool(base) and base not in self._generic and base not in _spellings(op.type)

    def chosen_scope(self, op: Op) -> str | None:
        """The innermost scope component of ``op`` somebody named, if any (``encoder``
        for ``encoder/Placeholder``), skipping TensorFlow's and layers' own scopes."""
        for part in reversed(op.name.split("/")[:-1]):
            base = _SUFFIX.sub("", part).lower()
            if base and base not in self._generic and base not in _LAYER_SCOPES:
                return part
        return None


# Scopes Keras and tf.compat.v1.layers name after the layer class.
_LAYER_SCOPES = frozenset({"dense", "conv1d", "conv2d", "conv3d", "batch_normalization",
                           "dropout", "flatten", "max_pooling2d", "average_pooling2d",
                           "model", "sequential", "input", "inputs", "lambda", "rnn",
                           "lstm", "gru", "cond", "while", "gradients", "embedding"})


def clean_key(text: str) -> str:
    """``image/encoded -> image_encoded``; a valid signature key."""
    key = _NOT_KEY.sub("_", text).strip("_") or "tensor"
    if key[0].isdigit():
        key = "t_" + key
    return key[:128]


def unique(key: str, taken: Iterable[str]) -> str:
    """``key``, or ``key_2``, ``key_3``... whichever is free."""
    used = set(taken)
    if key not in used:
        return key
    n = 2
    while f"{key}_{n}" in used:
        n += 1
    return f"{key}_{n}"
