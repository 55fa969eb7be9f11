"""User-facing errors: one line that names the file and the fix, never a traceback."""

from pathlib import Path


class SignetError(Exception):
    """A problem the user can act on. ``str(error)`` is the whole message."""


class CheckpointError(SignetError):
    """The checkpoint cannot be found, is incomplete, or is unreadable."""


class SignatureError(SignetError):
    """A signature names a tensor that does not exist or cannot be used."""


class PresetError(SignetError):
    """A preset file is malformed, from the future, or does not fit the checkpoint."""


class ExportError(SignetError):
    """The export could not be written, published or verified."""


class Cancelled(SignetError):
    """The user cancelled a long-running job; nothing was published."""


def read_checkpoint_file(path: Path) -> bytes:
    """The bytes of a checkpoint file, or a `CheckpointError` saying why not."""
    try:
        return path.read_bytes()
    except PermissionError as exc:
        raise CheckpointError(f"{path}: permission denied — make it readable (chmod u+r)") from exc
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from exc
