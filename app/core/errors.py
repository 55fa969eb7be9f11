"""User-facing errors: one line that names the file and the fix, never a traceback."""

import re
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


def one_line(text: str) -> str:
    """``text`` as one printable line: a NUL, a newline or another control character from
    a file (a node name, a path) shows as its escape instead of cutting or splitting it."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def error_line(error: BaseException | str, kind: bool = False) -> str:
    """The line of an error that says what went wrong, for a one-line message.

    TensorFlow's Python client wraps what the kernel said: "Graph execution error:",
    then "Detected at node …" with the Python stack where the op was defined and a
    "Node: '…'" line, then the kernel's own message ("Attempting to use uninitialized
    value …", "Key … not found in checkpoint"), then the node in ``[[…]]`` and the op's
    whole definition stack; a Saver's restore puts its own paragraph and "Original
    error:" before all that. The kernel's message is the line worth showing; an error
    without that wrapping gives its first line; several errors at once ("2 root
    error(s) found." then indented "(0) DATA_LOSS: …" lines) give the first one's.
    ``kind``: lead with the error's class (``DataLossError: …``), which says what kind of
    failure it was when the kernel's line does not (a checksum, a full disk).
    """
    text = error if isinstance(error, str) else str(getattr(error, "message", "") or error)
    lines = text.strip().splitlines()
    roots = [m.group(1) for line in lines if (m := _ROOT.match(line.strip()))]
    header = next((i for i, line in enumerate(lines)
                   if line.strip() == "Graph execution error:"), None)
    if header is not None:
        lines = [line for line in lines[header + 1:]
                 if line.strip() and not line.startswith(("Detected at node ", "Node: ", " "))]
    first = roots[0] if roots else next(
        (line.strip() for line in lines if line.strip() and not _COUNT.match(line.strip())), "")
    name = type(error).__name__ if isinstance(error, BaseException) else ""
    if kind and first and name and not first.startswith(name):
        first = f"{name}: {first}"
    return one_line(first or name)


_ROOT = re.compile(r"^\(\d+\) [A-Z_]+: (.+)$")  # one of several root errors
_COUNT = re.compile(r"^\d+ (root error\(s\) found|successful operations|derived errors)")
