"""Real batches drawn from the training graph's own input pipeline, when its files exist.

A signature input rewired from an input pipeline (an ``IteratorGetNext`` output, a
``parse_example`` feature of it) was fed, at training, examples the pipeline read from
data files. When those files are still there (where the graph recorded them, next to
the checkpoint, or in ``data/`` next to it), Signet runs only that pipeline: the ops
the inputs are computed from, the ``MakeIterator`` that starts their iterator and the
initializers of the lookup tables they read, cut out of the graph
(``extract_sub_graph``) and imported into a fresh graph on the CPU. Shuffles without a
seed get one, every run has a deadline, and nothing else of the training graph runs.
`BATCHES` batches are drawn, each cut to its first `EXAMPLES` examples.

- ``draw(meta, graph, draft, checkpoint_dir) -> (Samples | None, note | None)``: the
  batches (input key -> array each), or None with a note saying why nothing was drawn
  (None and None when no input comes from a pipeline with data files).

A queue filled by queue runners (``string_input_producer`` and a reader, a
``shuffle_batch``) is drawn from with the graph's own ``QueueRunner``s (its
``queue_runners`` collection) started on the cut-out graph and stopped after the draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.errors import error_line
from app.core.graph.opgraph import OpGraph
from app.core.proposal.sources import find_sources
from app.core.samples import Samples
from app.core.signature.draft import Draft, tensor_name

BATCHES = 2  # batches drawn: verification runs the first, the warmup replays them all
EXAMPLES = 8  # examples kept of each (a training batch of 128 images is no warmup request)
SECONDS = 30.0  # deadline of each run of the pipeline
SEED = 41
# Ops that start or fill the resources a pipeline reads (iterators, lookup tables).
_STARTERS = frozenset({"MakeIterator", "InitializeTableV2", "InitializeTable",
                       "InitializeTableFromTextFileV2", "InitializeTableFromTextFile",
                       "LookupTableImportV2"})
_QUEUE_FILLERS = frozenset({"QueueEnqueueV2", "QueueEnqueueManyV2", "QueueEnqueue",
                            "QueueEnqueueMany"})
_FILE_DATASETS = frozenset({"TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2",
                            "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2"})
_SHUFFLES = frozenset({"ShuffleDataset", "ShuffleDatasetV2", "ShuffleDatasetV3",
                       "ShuffleAndRepeatDataset", "ShuffleAndRepeatDatasetV2"})


def draw(meta: Any, graph: OpGraph, draft: Draft, checkpoint_dir: Path,
         batches: int = BATCHES, seconds: float = SECONDS
         ) -> tuple[Samples | None, str | None]:
    """Run the pipeline the draft's inputs come from (see module doc)."""
    sources = find_sources(graph)
    fetch: dict[str, str] = {}  # input key -> tensor
    for sig in draft.signatures:
        for slot in sig.inputs:
            name = tensor_name(slot.tensor)
            source = sources.get(name)
            if source is not None and source.kind in ("pipeline", "parsed"):
                fetch.setdefault(slot.key, name)
    if not fetch:
        return None, None
    ops, starters = _pipeline(graph, list(fetch.values()))
    runners = _queue_runners(meta, ops)
    fillers = {name for name in ops if graph.ops[name].type in _QUEUE_FILLERS}
    if fillers - {op for runner in runners for op in runner.enqueue_op_name}:
        return None, ("the inputs come from a queue no queue runner of the graph fills "
                      f"({sorted(fillers)[0]})")
    ops |= {_op_name(n) for r in runners for n in (r.close_op_name, r.cancel_op_name) if n}
    files, moved, missing = _files(graph, ops, checkpoint_dir)
    if missing:
        return None, (f"the training pipeline's data file {missing[0]} is gone (looked next "
                      f"to the checkpoint and in {checkpoint_dir / 'data'} too)")
    if not files:
        return None, None
    try:
        drawn = _run(meta, graph, ops, starters, runners, fetch, moved, batches, seconds)
    except Exception as exc:  # the pipeline's own failure: verification goes on without it
        return None, f"the training pipeline could not be run ({error_line(exc)})"
    if not drawn:
        return None, "the training pipeline handed over no examples"
    sizes = sorted({len(next(iter(b.values()))) for b in drawn})
    names = ", ".join(sorted(Path(f).name for f in files))
    return Samples(drawn, f"drawn from the training pipeline ({len(drawn)} batch(es) of "
                          f"{'/'.join(map(str, sizes))} example(s) from {names})"), None


def _pipeline(graph: OpGraph, tensors: list[str]) -> tuple[set[str], list[str]]:
    """The ops ``tensors`` are computed from, with what starts their resources; and those
    starters (iterator makers, table initializers), in graph order."""
    ops = graph.ops
    seen: set[str] = set()
    starters: list[str] = []
    stack = [tensor_name(t).rpartition(":")[0] for t in tensors]
    while stack:
        name = stack.pop()
        if name in seen or name not in ops:
            continue
        seen.add(name)
        op = ops[name]
        stack.extend(t.rpartition(":")[0] for t in op.inputs)
        stack.extend(op.control_inputs)
        for reader in op.consumers:  # the resource's starters read it
            if ops[reader].type in _STARTERS | _QUEUE_FILLERS and reader not in seen:
                if ops[reader].type in _STARTERS:
                    starters.append(reader)
                stack.append(reader)
    order = {name: i for i, name in enumerate(ops)}
    return seen, sorted(set(starters), key=order.__getitem__)


def _op_name(name: str) -> str:
    return name.split(":", 1)[0].lstrip("^")


def _queue_runners(meta: Any, ops: set[str]) -> list[Any]:
    """The graph's QueueRunnerDefs that fill a queue among ``ops``."""
    from tensorflow.core.protobuf import queue_runner_pb2

    from app.core.graph.protos import to_tensorflow_meta_graph

    collection = to_tensorflow_meta_graph(meta).collection_def.get("queue_runners")
    if collection is None:
        return []
    runners = (queue_runner_pb2.QueueRunnerDef.FromString(raw)
               for raw in collection.bytes_list.value)
    return [r for r in runners if _op_name(r.queue_name) in ops]


def _files(graph: OpGraph, ops: set[str], checkpoint_dir: Path
           ) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(data files found, {const op: its values with moved paths}, files missing)."""
    found: list[str] = []
    moved: dict[str, list[str]] = {}
    missing: list[str] = []
    for name in sorted(ops):
        op = graph.ops[name]
        if op.type != "Const" or op.outputs[0].dtype != "string":
            continue
        readers = {graph.ops[r].type for r in op.consumers}
        values = [v.decode("utf-8", "replace")
                  for v in op.node.attr["value"].tensor.string_val]
        new = []
        for value in values:
            path = _locate(value, checkpoint_dir)
            if path is None:
                if readers & _FILE_DATASETS:
                    missing.append(value)
                new.append(value)
                continue
            if not readers & _STARTERS:  # a vocabulary is no data file
                found.append(str(path))
            new.append(str(path))
        if new != values:
            moved[name] = new
    return found, moved, missing


def _locate(value: str, checkpoint_dir: Path) -> Path | None:
    """The file a string names: where it says, else by name next to the checkpoint."""
    if not value or "\n" in value or len(value) > 4096:
        return None
    path = Path(value)
    if path.is_file():
        return path
    if not path.name or path.name in (".", ".."):
        return None
    for folder in (checkpoint_dir, checkpoint_dir / "data"):
        local = folder / path.name
        if local.is_file():
            return local
    return None


def _run(meta: Any, graph: OpGraph, ops: set[str], starters: list[str], runners: list[Any],
         fetch: dict[str, str], moved: dict[str, list[str]], batches: int,
         seconds: float) -> list[dict[str, Any]]:
    from app.core.graph.protos import to_tensorflow_meta_graph
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    tf1 = tf.compat.v1
    graph_def = tf1.GraphDef()
    graph_def.CopyFrom(to_tensorflow_meta_graph(meta).graph_def)
    graph_def = tf1.graph_util.extract_sub_graph(graph_def, sorted(ops))
    _seeded(graph_def, graph)
    for node in graph_def.node:
        node.device = ""
        if node.name in moved:
            values = node.attr["value"].tensor.string_val
            del values[:]
            values.extend(v.encode("utf-8") for v in moved[node.name])
    fresh = tf.Graph()
    with fresh.as_default():
        tf1.import_graph_def(graph_def, name="")
        queue_runners = [tf1.train.QueueRunner(queue_runner_def=r) for r in runners]
    config = tf1.ConfigProto(device_count={"GPU": 0})
    options = tf1.RunOptions(timeout_in_ms=int(seconds * 1000))
    keys = sorted(fetch)
    drawn = []
    coordinator = tf1.train.Coordinator()
    with tf1.Session(graph=fresh, config=config) as session:
        if starters:
            session.run([fresh.get_operation_by_name(n) for n in starters], options=options)
        threads = [t for runner in queue_runners
                   for t in runner.create_threads(session, coordinator, daemon=True,
                                                  start=True)]
        try:
            for _ in range(batches):
                try:
                    values = session.run([fetch[k] for k in keys], options=options)
                except tf.errors.OutOfRangeError:
                    break
                drawn.append({k: v[:EXAMPLES] if v.ndim else v
                              for k, v in zip(keys, values, strict=True)})
        finally:  # the runners' cancel ops free threads blocked on a full queue
            coordinator.request_stop()
            coordinator.join(threads, stop_grace_period_secs=10,
                             ignore_live_threads=True)
    return drawn


def _seeded(graph_def: Any, graph: OpGraph) -> None:
    """Give every unseeded random op and shuffle of the cut-out pipeline a fixed seed."""
    nodes = {node.name: node for node in graph_def.node}
    for number, node in enumerate(graph_def.node, 1):
        attrs = node.attr
        if "seed" in attrs and "seed2" in attrs and not attrs["seed"].i and \
                not attrs["seed2"].i:
            attrs["seed"].i, attrs["seed2"].i = SEED, number
        if node.op in _SHUFFLES and len(node.input) >= 4:
            for offset, name in enumerate(node.input[2:4]):
                const = nodes.get(name.split(":")[0])
                if const is None or const.op != "Const":
                    continue
                tensor = const.attr["value"].tensor
                if list(tensor.int64_val) == [0] and len(graph.ops[const.name].consumers) == 1:
                    tensor.int64_val[0] = SEED + offset
