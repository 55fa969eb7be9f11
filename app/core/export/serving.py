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


def _jsonable(value: Any) -> Any:
    import numpy as np

    array = np.asarray(value)
    if array.dtype.kind in "OS":
        return np.vectorize(lambda b: b.decode("utf-8", "replace")
                            if isinstance(b, bytes) else str(b), otypes=[object])(
            array).tolist() if array.size else array.tolist()
    return array.tolist()


def rest_body(signature_key: str, samples: dict[str, Any]) -> dict[str, Any]:
    """A ``:predict`` request body: row format when every input has a batch dimension."""
    import numpy as np

    arrays = {k: np.asarray(v) for k, v in samples.items()}
    batch = {a.shape[0] if a.ndim else None for a in arrays.values()}
    if arrays and len(batch) == 1 and None not in batch:
        (rows,) = batch
        instances = [{k: _jsonable(a[i]) for k, a in arrays.items()} for i in range(rows)]
        if len(arrays) == 1:
            (key,) = arrays
            instances = [row[key] for row in instances]
        return {"signature_name": signature_key, "instances": instances}
    return {"signature_name": signature_key,
            "inputs": {k: _jsonable(a) for k, a in arrays.items()}}


def curl_command(name: str, body: dict[str, Any], host: str = "localhost") -> str:
    return (f"curl -X POST http://{host}:{REST_PORT}/v1/models/{name}:predict "
            f"-d '{json.dumps(body)}'")


def serving_command(name: str, model_folder: Path) -> str:
    return (f"docker run -p {REST_PORT}:{REST_PORT} "
            f"-v '{model_folder.absolute()}:/models/{name}' -e MODEL_NAME={name} "
            "tensorflow/serving")
