"""What users paste into TensorFlow Serving: signature summary, models.config, REST body.

The summary reads the SignatureDef protos and prints them the way
``saved_model_cli show --all`` does for a TF1 SavedModel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REST_PORT = 8501


def signature_summary(signature_defs: dict[str, Any], tags: str = "serve") -> str:
    from tensorflow.core.framework import types_pb2

    lines = [f"MetaGraphDef with tag-set: '{tags}' contains the following SignatureDefs:", ""]
    for key in sorted(signature_defs):
        sig = signature_defs[key]
        lines.append(f"signature_def['{key}']:")
        for side, infos in (("input", sig.inputs), ("output", sig.outputs)):
            lines.append(f"  The given SavedModel SignatureDef contains the following {side}(s):")
            for name in sorted(infos):
                info = infos[name]
                if info.tensor_shape.unknown_rank:
                    shape = "unknown_rank"
                else:
                    dims = [str(d.size) for d in info.tensor_shape.dim]
                    shape = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
                lines += [f"    {side}s['{name}'] tensor_info:",
                          f"        dtype: {types_pb2.DataType.Name(info.dtype)}",
                          f"        shape: {shape}",
                          f"        name: {info.name}"]
        lines.append(f"  Method name is: {sig.method_name}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def models_config(name: str, model_folder: Path) -> str:
    """A ``model_config_list`` entry for TensorFlow Serving's ``--model_config_file``."""
    return ("model_config_list {\n"
            "  config {\n"
            f"    name: '{name}'\n"
            f"    base_path: '{model_folder.absolute()}'\n"
            "    model_platform: 'tensorflow'\n"
            "  }\n"
            "}\n")


def signature_shapes(signature_def: Any) -> dict[str, Any]:
    """``{"inputs:key"/"outputs:key": shape}`` of a SignatureDef (None: unknown rank)."""
    shapes = {}
    for side in ("inputs", "outputs"):
        for key, info in getattr(signature_def, side).items():
            dims = info.tensor_shape.dim
            shapes[f"{side}:{key}"] = None if info.tensor_shape.unknown_rank else \
                tuple(None if d.size < 0 else d.size for d in dims)
    return shapes


def rest_body(signature_key: str, samples: dict[str, Any],
              signature_def: Any = None) -> dict[str, Any]:
    """A ``:predict`` body TF Serving accepts: rows only when the signature allows them."""
    from app.core.serving.rest import request_body
    from app.core.validation.serving_checks import row_format_offenders

    row_ok = signature_def is None or not row_format_offenders(signature_shapes(signature_def))
    return request_body(signature_key, samples, row_ok)


def rest_refusal(signature_def: Any) -> str | None:
    """Why TF Serving's REST API cannot serve this signature (an input or output dtype
    its JSON does not hold), or None."""
    from app.core.serving.rest import json_refusal
    from app.core.tf_runtime import tensorflow

    as_dtype = tensorflow().dtypes.as_dtype
    for side in ("inputs", "outputs"):
        infos = getattr(signature_def, side)
        for key in sorted(infos):
            why = json_refusal(side, key, as_dtype(infos[key].dtype).name)
            if why:
                return why
    return None


def curl_command(name: str, body: dict[str, Any] | str, host: str = "localhost") -> str:
    """The ``curl`` request posting ``body`` (a dict, or its JSON text)."""
    text = body if isinstance(body, str) else json.dumps(body)
    text = text.replace("'", "'\\''")  # safe inside the shell's single quotes
    return (f"curl -X POST http://{host}:{REST_PORT}/v1/models/{name}:predict "
            f"-d '{text}'")


def serving_command(name: str, model_folder: Path) -> str:
    return (f"docker run -p {REST_PORT}:{REST_PORT} "
            f"-v '{model_folder.absolute()}:/models/{name}' -e MODEL_NAME={name} "
            "tensorflow/serving")
