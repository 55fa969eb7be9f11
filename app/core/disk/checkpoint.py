"""Find a TF1 checkpoint from whatever path a user points at, and check it is whole.

A Saver checkpoint is a *prefix* (``model.ckpt-200``) plus ``.meta`` (the graph),
``.index`` (the variable table) and ``.data-NNNNN-of-MMMMM`` shards, and usually a
``checkpoint`` state file in the folder. Users point at any of these.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from app.core.disk.bundle_index import BundleIndex, read_bundle_index
from app.core.errors import CheckpointError

STATE_FILE = "checkpoint"
_STATE_LIMIT = 1 << 20  # a state file names a few prefixes: 1 MiB is far beyond any real one
_DATA_RE = re.compile(r"^(?P<prefix>.+)\.data-(?P<shard>\d{5})-of-(?P<count>\d{5})$")
_STEP_RE = re.compile(r"-(\d+)$")


def step_of(prefix: str | Path) -> int | None:
    """The global step encoded in a prefix name (``model.ckpt-200`` -> 200)."""
    match = _STEP_RE.search(Path(prefix).name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class CheckpointFiles:
    """The files of one complete checkpoint."""

    prefix: Path
    meta: Path
    index: Path
    data: tuple[Path, ...]
    bundle: BundleIndex  # the parsed index, so nobody reads it twice


@dataclass(frozen=True)
class Checkpoint:
    """A chosen checkpoint and the other steps its folder holds."""

    prefix: Path
    # Every checkpoint prefix in the folder, newest first.
    available: tuple[Path, ...] = field(default=())
    # What the user should know about how it was found (a state file naming another folder).
    warnings: tuple[str, ...] = field(default=())

    @property
    def step(self) -> int | None:
        return step_of(self.prefix)

    @property
    def steps(self) -> list[int]:
        """Steps in the folder, newest first (prefixes without a step are left out)."""
        return [s for s in (step_of(p) for p in self.available) if s is not None]

    @property
    def directory(self) -> Path:
        return self.prefix.parent

    @property
    def name(self) -> str:
        return self.prefix.name

    def at_step(self, step: int) -> Checkpoint:
        """The sibling checkpoint at ``step``."""
        for prefix in self.available:
            if step_of(prefix) == step:
                return Checkpoint(prefix, self.available)
        raise CheckpointError(
            f"{self.directory}: no checkpoint at step {step} — steps here: "
            f"{', '.join(map(str, self.steps)) or 'none'}"
        )

    def files(self) -> CheckpointFiles:
        """Check the set is complete and return its files (see `check_complete`)."""
        return check_complete(self.prefix)


def prefix_of(path: Path) -> Path | None:
    """Strip a checkpoint file suffix; None if ``path`` is not a checkpoint file name."""
    name = path.name
    for suffix in (".meta", ".index"):
        if name.endswith(suffix):
            return path.with_name(name[: -len(suffix)])
    match = _DATA_RE.match(name)
    if match:
        return path.with_name(match.group("prefix"))
    return None


def _sort_newest_first(prefixes: set[Path]) -> tuple[Path, ...]:
    def key(prefix: Path) -> tuple[int, float, str]:
        step = step_of(prefix)
        try:
            files = prefix.parent.glob(_glob_escape(prefix.name) + ".*")
            mtime = max(p.stat().st_mtime for p in files)
        except (OSError, ValueError):
            mtime = 0.0
        return (step if step is not None else -1, mtime, prefix.name)

    return tuple(sorted(prefixes, key=key, reverse=True))


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?\[\]])", r"[\1]", name)


def list_checkpoints(directory: Path) -> tuple[Path, ...]:
    """Every checkpoint prefix in ``directory`` (by its ``.index`` or ``.meta``), newest first."""
    try:
        names = os.listdir(directory)
    except PermissionError as exc:
        raise CheckpointError(
            f"{directory}: permission denied — make the folder readable (chmod u+rx)"
        ) from exc
    except OSError as exc:
        raise CheckpointError(f"{directory}: cannot list the folder ({exc.strerror})") from exc
    prefixes = set()
    for name in names:
        if name.endswith((".index", ".meta")):
            prefix = prefix_of(directory / name)
            if prefix is not None:
                prefixes.add(prefix)
    # A run's one shared .meta (see `shared_meta_graph`) is no checkpoint of its own.
    indexed = {p for p in prefixes if f"{p.name}.index" in names}
    shared = {meta for p in indexed if f"{p.name}.meta" not in names
              and (meta := shared_meta_graph(p)) is not None}
    prefixes -= {p for p in prefixes - indexed if p.with_name(p.name + ".meta") in shared}
    return _sort_newest_first(prefixes)


def read_state_file(directory: Path) -> list[Path]:
    """Prefixes named by the folder's ``checkpoint`` file, newest (the current one) first.

    Absolute paths from another machine are resolved relative to ``directory``.
    """
    state = directory / STATE_FILE
    try:
        if state.exists() and (not state.is_file() or state.stat().st_size > _STATE_LIMIT):
            # A FIFO would be read forever, a huge file parsed for minutes.
            raise CheckpointError(f"{state}: not a checkpoint state file (a regular file of a "
                                  "few lines) — delete it to use the newest checkpoint here")
        text = state.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except PermissionError as exc:
        raise CheckpointError(f"{state}: permission denied — make it readable (chmod u+r)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{state}: unreadable state file ({exc}) — delete it or fix it"
        ) from exc

    from google.protobuf import text_format

    from app.core.graph.protos import CheckpointState

    try:
        proto = text_format.Parse(text, CheckpointState())
    except text_format.ParseError as exc:
        raise CheckpointError(
            f"{state}: malformed state file ({exc}) — delete it to use the newest .meta"
        ) from exc
    current = proto.model_checkpoint_path
    every = list(proto.all_model_checkpoint_paths)
    ordered = ([current] if current else []) + [p for p in reversed(every) if p != current]
    return [_resolve_state_path(directory, p) for p in ordered]


def _resolve_state_path(directory: Path, value: str) -> Path:
    path = Path(value)
    if not path.is_absolute():
        return directory / path
    # An absolute path from another machine, or from the folder this one was copied
    # from: the files next to the state file are the ones the user opened.
    local = directory / path.name
    return path if _exists_any(path) and not _exists_any(local) else local


def _elsewhere(directory: Path, chosen: Path) -> tuple[str, ...]:
    """A warning when the state file sent Signet to a checkpoint outside ``directory``."""
    try:
        outside = chosen.parent.resolve() != directory.resolve()
    except OSError:  # a symlink loop: the open that follows says what is wrong
        outside = True
    if not outside:
        return ()
    return (f"{directory / STATE_FILE}: names {chosen}, outside this folder; that is the "
            "checkpoint opened — open its folder or file directly to be sure it is the one "
            "you mean",)


def _exists_any(prefix: Path) -> bool:
    return prefix.with_name(prefix.name + ".index").exists() or prefix.with_name(
        prefix.name + ".meta"
    ).exists()


def resolve(path: str | os.PathLike[str]) -> Checkpoint:
    """Turn a folder, a prefix or any checkpoint file into a `Checkpoint`.

    Raises `CheckpointError` with a one-line message when nothing usable is there.
    """
    given = Path(path).expanduser()
    if not given.is_absolute():
        given = Path.cwd() / given

    if given.is_dir():
        directory = given
        available = list_checkpoints(directory)
        named = read_state_file(directory)
        if named:
            existing = [p for p in named if _exists_any(p)]
            if not existing:
                raise CheckpointError(
                    f"{directory / STATE_FILE}: names {named[0].name}, which does not exist here — "
                    "fix the state file or open a .meta file directly"
                )
            chosen = existing[0]
        elif available:
            chosen = available[0]
        else:
            raise CheckpointError(
                f"{directory}: no checkpoint here (no .meta or .index files) — "
                "open the folder your training run saved to"
            )
        notes = _elsewhere(directory, chosen) if named else ()
        return Checkpoint(chosen, _with(available, chosen), notes)

    prefix = prefix_of(given)
    if prefix is None:
        prefix = given
        if not _exists_any(prefix):
            if not given.parent.exists():
                raise CheckpointError(f"{given}: no such file or folder")
            if given.exists():
                raise CheckpointError(
                    f"{given}: not a checkpoint — open a checkpoint folder or its "
                    ".meta, .index or .data file"
                )
            raise CheckpointError(
                f"{given}: no such checkpoint (neither {given.name}.meta nor "
                f"{given.name}.index exists)"
            )
    elif not given.exists() and not _exists_any(prefix):
        raise CheckpointError(f"{given}: no such file")
    available = list_checkpoints(prefix.parent) if prefix.parent.is_dir() else ()
    if not prefix.with_name(prefix.name + ".index").exists():
        sharing = _steps_sharing(prefix)  # a run's one .meta: open its newest step
        if sharing:
            named = [p for p in read_state_file(prefix.parent) if p in sharing]
            return Checkpoint((named or list(sharing))[0], available)
    return Checkpoint(prefix, _with(available, prefix))


def _with(available: tuple[Path, ...], chosen: Path) -> tuple[Path, ...]:
    if chosen in available:
        return available
    return _sort_newest_first({*available, chosen})


def data_shards(prefix: Path, num_shards: int) -> tuple[Path, ...]:
    """The data shard paths a checkpoint with ``num_shards`` shards must have (call
    `missing_shard` first: the count comes from a file, and may be 2^31 - 1)."""
    return tuple(_shard(prefix, i, num_shards) for i in range(num_shards))


def _shard(prefix: Path, i: int, num_shards: int) -> Path:
    return prefix.with_name(f"{prefix.name}.data-{i:05d}-of-{num_shards:05d}")


def missing_shard(prefix: Path, num_shards: int) -> Path | None:
    """The first of ``num_shards`` data shards that is not in ``prefix``'s folder, or None.

    The work is bounded by the folder, not by the count an index claims: a 1 KB
    ``.index`` may say 2^31 - 1 shards, and naming them all would take gigabytes.
    """
    try:
        names = set(os.listdir(prefix.parent))
    except OSError:
        names = set()
    tail = f"-of-{num_shards:05d}"
    start = f"{prefix.name}.data-"
    present = sum(1 for n in names if n.startswith(start) and n.endswith(tail))
    for i in range(min(num_shards, present + 1)):  # some shard below present + 1 is absent
        shard = _shard(prefix, i, num_shards)
        if shard.name not in names or not shard.exists():
            return shard
    return None


def check_complete(prefix: Path) -> CheckpointFiles:
    """Check the meta graph, index and every data shard exist and are readable.

    The number of shards comes from the index header, so a lost shard is named
    exactly. Corrupt contents are reported by the readers that parse them.
    """
    meta = prefix.with_name(prefix.name + ".meta")
    if not meta.exists():
        meta = shared_meta_graph(prefix) or meta
    index = prefix.with_name(prefix.name + ".index")
    for path, role, fix in (
        (meta, "the meta graph", "Signet needs the .meta file the Saver wrote (saver.save with "
         "write_meta_graph=True)"),
        (index, "the variable index", "copy the .index file next to the .meta"),
    ):
        _require_readable(path, role, fix)
    bundle = read_bundle_index(index)
    fix = "copy every .data-* file of this step"
    missing = missing_shard(prefix, bundle.num_shards)
    if missing is not None:
        raise CheckpointError(f"{missing}: missing (a data shard) — {fix}")
    shards = data_shards(prefix, bundle.num_shards)
    for shard in shards:
        _require_readable(shard, "a data shard", fix)
    bundle.check_shard_sizes(shards)
    return CheckpointFiles(prefix=prefix, meta=meta, index=index, data=shards, bundle=bundle)


def shared_meta_graph(prefix: Path) -> Path | None:
    """The one ``.meta`` a run wrote for all its steps, if ``prefix`` has none of its own.

    Programs that save with ``write_meta_graph=False`` and export the graph once (facenet
    writes ``model-<run>.meta`` beside ``model-<run>.ckpt-<step>``) leave one meta graph
    whose name, without ``.meta``, begins the checkpoint's; the longest such name wins.
    """
    try:
        names = os.listdir(prefix.parent)
    except OSError:
        return None
    stems = [n[: -len(".meta")] for n in names if n.endswith(".meta")]
    owners = [s for s in stems if prefix.name.startswith(s) and prefix.name != s
              and prefix.name[len(s)] in ".-_"]
    return prefix.with_name(max(owners, key=len) + ".meta") if owners else None


def _steps_sharing(meta_prefix: Path) -> tuple[Path, ...]:
    """Checkpoints (with an ``.index``) that use ``meta_prefix``'s ``.meta`` as theirs."""
    return tuple(p for p in list_checkpoints(meta_prefix.parent)
                 if p != meta_prefix and p.with_name(p.name + ".index").exists()
                 and not p.with_name(p.name + ".meta").exists()
                 and shared_meta_graph(p) == meta_prefix.with_name(meta_prefix.name + ".meta"))


def _require_readable(path: Path, role: str, fix: str) -> None:
    if not path.exists():
        raise CheckpointError(f"{path}: missing ({role}) — {fix}")
    if not path.is_file():  # a folder, a FIFO (a read never ends), /dev/zero (nor does it)
        raise CheckpointError(f"{path}: not a regular file ({role}) — {fix}")
    if not os.access(path, os.R_OK):
        raise CheckpointError(f"{path}: permission denied — make it readable (chmod u+r)")
