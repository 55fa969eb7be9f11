"""TF1 control-flow context records that stay true after a graph is pruned.

A TF1 graph keeps, next to its ``Enter``/``Exit``/``Merge``/``Switch`` ops, one
record per v1 while loop (``while_context``) and cond (``cond_context``) naming
the loop's pivots, enters, exits and every value inside it; nested loops and
conds ride inside their outer record (``nested_contexts``). TensorFlow's
importers (``import_meta_graph`` and the SavedModel loader) turn each record back
into a ``WhileContext``/``CondContext`` with ``graph.as_graph_element(name)`` for
every name it holds, so a record naming a pruned op makes the import fail
("The name '…/while/Exit:0' refers to a Tensor which does not exist").

TensorFlow's own pruning (``graph_util.extract_sub_graph``) works on a GraphDef
and leaves the collections to the caller, and its scoped export
(``export_scoped_meta_graph``) keeps or drops a whole record by name scope. Here
a pruned graph keeps every record whose pivots survive, holding only the names
of ops that were kept (the kept part of the loop: typically a ``dynamic_rnn``
whose time counter exit and gradient stack pushes were pruned), and drops a
record whose pivot or predicate is gone. The ops themselves run the same with or
without a record: records matter for building gradients, not for serving.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _op(name: str) -> str:
    return name.split(":", 1)[0].lstrip("^")


def prune_context_records(key: str, records: Iterable[bytes], kept: set[str]) -> list[bytes]:
    """The ``while_context``/``cond_context`` records of ``key`` restricted to ``kept`` ops."""
    from tensorflow.core.protobuf import control_flow_pb2

    proto = (control_flow_pb2.WhileContextDef if key == "while_context"
             else control_flow_pb2.CondContextDef)
    result = []
    for raw in records:
        context = proto.FromString(raw)
        if _prune(context, kept):
            result.append(context.SerializeToString())
    return result


def _prune(context: Any, kept: set[str]) -> bool:
    """Restrict ``context`` (a While- or CondContextDef) in place; False to drop it."""
    if context.DESCRIPTOR.name == "WhileContextDef":
        required = [context.pivot_name, context.pivot_for_pred_name,
                    context.pivot_for_body_name]
        if context.maximum_iterations_name:
            required.append(context.maximum_iterations_name)
        for names in (context.loop_exit_names, context.loop_enter_names):
            _keep_only(names, kept)
    else:
        required = [context.pred_name, context.pivot_name]
    if any(_op(name) not in kept for name in required):
        return False
    values = context.values_def
    _keep_only(values.values, kept)
    for inner in [k for k, v in values.external_values.items()
                  if _op(k) not in kept or _op(v) not in kept]:
        del values.external_values[inner]
    nested = list(context.nested_contexts)
    del context.nested_contexts[:]
    for item in nested:
        which = item.WhichOneof("ctxt")
        if which is not None and _prune(getattr(item, which), kept):
            context.nested_contexts.add().CopyFrom(item)
    return True


def _keep_only(names: Any, kept: set[str]) -> None:
    """Drop from a repeated string field the names of ops not in ``kept``."""
    wanted = [n for n in names if _op(n) in kept]
    del names[:]
    names.extend(wanted)
