"""TensorFlow ``DataType`` enum values as the names users know (``float32``, ``int64``).

Kept free of TensorFlow imports so graph descriptions stay cheap.
"""

from __future__ import annotations

# DataType enum numbers from tensorflow/core/framework/types.proto.
_NAMES = {
    0: "invalid", 1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
    7: "string", 8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8",
    13: "qint32", 14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16",
    18: "complex128", 19: "float16", 20: "resource", 21: "variant", 22: "uint32",
    23: "uint64", 24: "float8_e5m2", 25: "float8_e4m3fn", 29: "int4", 30: "uint4",
}
_REF_OFFSET = 100
_SIZES = {
    "float32": 4, "float64": 8, "int32": 4, "uint8": 1, "int16": 2, "int8": 1,
    "complex64": 8, "int64": 8, "bool": 1, "qint8": 1, "quint8": 1, "qint32": 4,
    "bfloat16": 2, "qint16": 2, "quint16": 2, "uint16": 2, "complex128": 16,
    "float16": 2, "uint32": 4, "uint64": 8, "float8_e5m2": 1, "float8_e4m3fn": 1,
}


def dtype_name(value: int) -> str:
    """``1 -> 'float32'``, ``101 -> 'float32_ref'``; unknown numbers stay visible."""
    if value > _REF_OFFSET:
        return dtype_name(value - _REF_OFFSET) + "_ref"
    return _NAMES.get(value, f"dtype{value}")


def dtype_size(name: str) -> int:
    """Bytes per element, 0 for variable-size types (string, resource, variant)."""
    return _SIZES.get(name.removesuffix("_ref"), 0)


def base_dtype(name: str) -> str:
    """The value type of a reference type (``float32_ref`` -> ``float32``)."""
    return name.removesuffix("_ref")


def dtype_enum(name: str) -> int:
    """``'float32' -> 1``, ``'float32_ref' -> 101``: the DataType number for a name."""
    if name.endswith("_ref"):
        return dtype_enum(name.removesuffix("_ref")) + _REF_OFFSET
    for number, known in _NAMES.items():
        if known == name:
            return number
    raise ValueError(f"unknown dtype {name!r}")
