"""``BASE/models.config``: the entry TensorFlow Serving's ``--model_config_file`` reads.

The file is TF Serving's own ``ModelServerConfig`` in protobuf text format, read and
written with its generated class (`tensorflow_serving.config.model_server_config_pb2`),
so other models' entries in the same file are kept as they are. A watch lists exactly
the versions it keeps (``model_version_policy { specific { … } }``) and labels the best
one ``stable`` and the newest ``canary``; clients can ask for a label instead of a
number. The file is replaced atomically: TF Serving polls it
(``--model_config_file_poll_wait_seconds``) and must never read half of it.
"""

from __future__ import annotations

from pathlib import Path

from app.core.errors import SignetError
from app.core.watch.state import write_atomically

CONFIG_FILE = "models.config"


def read_config(base: Path):
    """The ``ModelServerConfig`` in ``base/models.config`` (empty when there is none)."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    path = base / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return config
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as exc:
        raise SignetError(f"{path}: not a TensorFlow Serving model config ({exc}); fix or "
                          "move it, Signet keeps the other models' entries") from exc
    return config


def update_config(base: Path, name: str, versions: list[int],
                  labels: dict[str, int]) -> Path:
    """Set NAME's entry to serve ``versions`` with ``labels``; keep every other entry."""
    from google.protobuf import text_format

    config = read_config(base)
    entries = config.model_config_list.config
    entry = next((c for c in entries if c.name == name), None)
    if entry is None:
        entry = entries.add(name=name)
    entry.base_path = str((base / name).absolute())
    entry.model_platform = "tensorflow"
    entry.model_version_policy.specific.ClearField("versions")
    entry.model_version_policy.specific.versions.extend(sorted(versions))
    entry.version_labels.clear()
    for label, version in labels.items():
        entry.version_labels[label] = version
    path = base / CONFIG_FILE
    write_atomically(path, text_format.MessageToString(config))
    return path


def labels_of(base: Path, name: str) -> dict[str, int]:
    """NAME's version labels in ``base/models.config`` (empty when it has no entry)."""
    entry = next((c for c in read_config(base).model_config_list.config if c.name == name),
                 None)
    return dict(entry.version_labels) if entry is not None else {}
