"""Where a training graph's data comes in: placeholders and what the input pipeline hands on.

A served model is fed what the training program fed it: a placeholder, a tensor an
``IteratorGetNext`` or a queue dequeue hands the model, or a feature ``parse_example``
decoded from serialized ``tf.train.Example`` records (a sparse feature only once
``sparse_to_dense`` made it one dense tensor; while any needed feature stays sparse,
the serialized records themselves are the input). Found by op type in one pass over
the types the graph holds, never by walking every op.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from app.core.graph.opgraph import Op, OpGraph

PLACEHOLDERS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
PIPELINE = frozenset({"IteratorGetNext", "IteratorGetNextSync", "QueueDequeue",
                      "QueueDequeueV2", "QueueDequeueMany", "QueueDequeueManyV2",
                      "QueueDequeueUpTo", "QueueDequeueUpToV2", "OptionalGetValue"})
PARSERS = frozenset({"ParseExample", "ParseExampleV2", "ParseSingleExample",
                     "ParseSingleExampleV2"})
_DENSIFY = frozenset({"SparseToDense"})
_HANDING_ON = frozenset({"PlaceholderWithDefault", "Identity"})
# Ops that only write a fed value into state or a file: their placeholders are no data
# (the Saver's filename, Keras' assign placeholders, a table's initial keys).
_WRITERS = frozenset({"Assign", "AssignVariableOp", "SaveV2", "RestoreV2", "Save",
                      "Restore", "MergeV2Checkpoints", "ShardedFilename", "StringJoin",
                      "InitializeTableV2", "InitializeTable", "InitializeTableFromTextFileV2",
                      "InitializeTableFromTextFile", "QueueEnqueueV2", "QueueEnqueueManyV2",
                      "QueueEnqueue", "QueueEnqueueMany"})


@dataclass(frozen=True)
class Source:
    tensor: str  # "op:N"
    kind: str  # "placeholder" | "pipeline" | "parsed"
    feature_key: str | None = None  # the parse_example key of a parsed feature
    defaulted: bool = False  # a PlaceholderWithDefault: feeding it is optional


def ops_of_type(graph: OpGraph, types: Iterable[str]) -> Iterator[Op]:
    """The graph's ops of the given types, through the loader's index of types."""
    wanted = [graph.type_positions.get(t, ()) for t in types]
    if not any(wanted):
        return iter(())
    names = list(graph.ops)
    return (graph.ops[names[i]] for positions in wanted for i in positions)


def find_sources(graph: OpGraph) -> dict[str, Source]:
    """Every tensor the model could be fed, by tensor name."""
    ops = graph.ops
    found: dict[str, Source] = {}
    for op in ops_of_type(graph, PLACEHOLDERS):
        if _feeds_only_writers(graph, op):
            continue
        found[f"{op.name}:0"] = Source(f"{op.name}:0", "placeholder",
                                       defaulted=op.type == "PlaceholderWithDefault")
    for op in ops_of_type(graph, PIPELINE):
        for i in range(op.output_count):
            readers = _readers(graph, op, i)
            if readers and all(ops[c].type in PARSERS for c in readers):
                continue  # serialized records: the parsed features are the inputs
            found[f"{op.name}:{i}"] = Source(f"{op.name}:{i}", "pipeline")
    for op in ops_of_type(graph, PARSERS):
        parsed = parsed_features(graph, op)
        if parsed is None:  # a sparse feature the model reads as such: serve the records
            serialized = op.inputs[0] if op.inputs else None
            if serialized is not None:
                found[serialized] = Source(serialized, "pipeline")
            continue
        for tensor, key in parsed.items():
            found[tensor] = Source(tensor, "parsed", key)
    return found


def _feeds_only_writers(graph: OpGraph, op: Op, depth: int = 3) -> bool:
    """Whether everything ``op`` feeds ends in writers (the Saver's filename placeholder
    feeds another placeholder that feeds the save and restore ops)."""
    if not op.consumers:
        return False
    for name in op.consumers:
        reader = graph.ops[name]
        if reader.type in _WRITERS:
            continue
        if depth == 0 or reader.type not in _HANDING_ON or (
                reader.consumers and not _feeds_only_writers(graph, reader, depth - 1)):
            return False
    return True


def parsed_features(graph: OpGraph, op: Op) -> dict[str, str] | None:
    """``{tensor: feature key}`` for a parser's dense values and densified sparse ones;
    None when a sparse feature is read other than through ``sparse_to_dense``."""
    sparse_keys, dense_keys = _feature_keys(graph, op)
    n_sparse = len(sparse_keys)
    out: dict[str, str] = {}
    for i, key in enumerate(dense_keys):
        out[f"{op.name}:{3 * n_sparse + i}"] = key
    for i, key in enumerate(sparse_keys):
        indices, values, shape = (f"{op.name}:{i}", f"{op.name}:{n_sparse + i}",
                                  f"{op.name}:{2 * n_sparse + i}")
        readers = {c for t in (indices, values, shape) for c in _readers_of(graph, t)}
        if not readers:
            continue
        dense = [c for c in readers if graph.ops[c].type in _DENSIFY
                 and {indices, values, shape} <= set(graph.ops[c].inputs)]
        if len(dense) != len(readers):
            return None
        for name in dense:
            out[f"{name}:0"] = key
    return out


def _feature_keys(graph: OpGraph, op: Op) -> tuple[list[str], list[str]]:
    """(sparse keys, dense keys): attributes of the single-example parsers, constant
    inputs of the batch ones."""
    attr = op.node.attr
    if op.type.startswith("ParseSingleExample") and "dense_keys" in attr:
        return ([s.decode("utf-8", "replace") for s in attr["sparse_keys"].list.s],
                [s.decode("utf-8", "replace") for s in attr["dense_keys"].list.s])
    if op.type == "ParseExampleV2":
        # serialized, names, sparse_keys, dense_keys, ragged_keys, dense_defaults...
        return (_strings(graph, op.inputs[2:3]), _strings(graph, op.inputs[3:4]))
    n_sparse = attr["Nsparse"].i if "Nsparse" in attr else attr["num_sparse"].i
    n_dense = len(attr["Tdense"].list.type)
    # ParseExample: serialized, names, sparse_keys[Nsparse], dense_keys[Ndense], ...
    keys = op.inputs[2:2 + n_sparse + n_dense]
    return _strings(graph, keys[:n_sparse]), _strings(graph, keys[n_sparse:])


def _strings(graph: OpGraph, tensors: list[str]) -> list[str]:
    """The string values of constant tensors (a key list or one key each)."""
    out: list[str] = []
    for tensor in tensors:
        op = graph.ops.get(tensor.rpartition(":")[0])
        if op is None or op.type != "Const":
            out.append("")
            continue
        out += [s.decode("utf-8", "replace") for s in op.node.attr["value"].tensor.string_val]
    return out


def _readers(graph: OpGraph, op: Op, index: int) -> list[str]:
    return _readers_of(graph, f"{op.name}:{index}", op)


def _readers_of(graph: OpGraph, tensor: str, op: Op | None = None) -> list[str]:
    """Ops reading ``tensor`` (not the producer's other outputs)."""
    producer = op if op is not None else graph.ops.get(tensor.rpartition(":")[0])
    if producer is None:
        return []
    return [c for c in dict.fromkeys(producer.consumers) if tensor in graph.ops[c].inputs]
