"""The op-graph model: ops, their output tensors, consumers, name scopes and a DiGraph.

Built straight from a ``MetaGraphDef``. Output dtypes come from the op
definitions the Saver stores in ``meta_info_def.stripped_op_list`` and static
shapes from the ``_output_shapes`` attribute, so no TensorFlow graph, session or
op registry is involved. Attribute values stay in the ``NodeDef`` (``Op.node``)
and are formatted only when asked for.
"""

from __future__ import annotations

import gc
import operator
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import networkx as nx

from app.core.dtypes import dtype_name

Shape = tuple[int | None, ...] | None  # None: unknown rank; None dims: unknown size
# How an OpDef's outputs are counted, worked out once per op type: the count itself
# when no attribute can change it, else (type_list_attr, number_attr, type_attr) per
# output arg ("" where the arg has none).
CountPlan = int | tuple[tuple[str, str, str], ...]
# NodeDefs with up to this many inputs (control inputs included) have them read at once.
_SLICED_INPUTS = 8


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic GC while a model is built: it allocates ~10 long-lived objects per op,
    and collection passes over them would only cost time (nothing is garbage yet).

    On the way out the survivors are frozen (`gc.freeze`) before the collector is
    enabled again: otherwise the first allocation after it would start a pass over
    every object just built (~30 ms at 10k ops, ~0.3 s at 100k). The model holds no
    reference cycles (see `OpGraph`), so reference counting still frees it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


def format_shape(shape: Shape) -> str:
    """``(None, 128) -> '[?, 128]'``; unknown rank -> ``'<unknown>'``."""
    if shape is None:
        return "<unknown>"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


class Tensor:
    """An op's output ``op:N``. Holds its op weakly: see `OpGraph` on reference cycles."""

    __slots__ = ("_op", "dtype", "index", "shape")

    def __init__(self, op: Op, index: int, dtype: str, shape: Shape) -> None:
        self._op = weakref.ref(op)
        self.index = index
        self.dtype = dtype
        self.shape = shape

    def __repr__(self) -> str:
        return f"Tensor({self.name!r}, {self.dtype}, {self.shape_text})"

    @property
    def op(self) -> Op:
        op = self._op()
        if op is None:
            raise ReferenceError("the graph of this tensor was closed")
        return op

    @property
    def name(self) -> str:
        return f"{self.op.name}:{self.index}"

    @property
    def shape_text(self) -> str:
        return format_shape(self.shape)


@dataclass(slots=True, eq=False, weakref_slot=True)
class Op:
    name: str
    type: str
    inputs: list[str]  # data inputs as tensor names ("op:N")
    _nodes: Any  # the repeated NodeDef field holding this op's (graph or function body)
    _index: int  # its position there
    op_def: Any = None  # the OpDef from the meta graph's stripped op list, if there
    _graph: weakref.ref[OpGraph] | None = None  # None for ops inside function bodies
    function: str | None = None  # the function whose body holds this op
    consumers: list[str] = field(default_factory=list)  # ops reading an output
    count_plan: CountPlan | None = None  # from the OpDef (None without one)
    _outputs: list[Tensor] | None = None
    # False when the loader saw the NodeDef has no control inputs, so `control_inputs`
    # need not read it (walks over 100k ops would otherwise fetch every NodeDef).
    has_control: bool = True

    @property
    def node(self) -> Any:
        """The NodeDef, for attributes and control inputs. Fetched when asked for:
        holding a Python wrapper for every NodeDef costs more to make and to free
        (~0.3 s at 100k ops, open and close) than fetching the few that are read."""
        return self._nodes[self._index]

    @property
    def position(self) -> int:
        """Where the op stands among its graph's (or function's) NodeDefs."""
        return self._index

    @property
    def outputs(self) -> list[Tensor]:
        """Output tensors, worked out from the OpDef and ``_output_shapes`` on first use
        (most ops of a big graph are never looked at)."""
        if self._outputs is None:
            self._outputs = _outputs_of(self)
        return self._outputs

    @property
    def output_count(self) -> int:
        """``len(outputs)`` without building the tensors when the OpDef and the
        attributes give the count (the search index asks it of every op)."""
        plan = self.count_plan
        if self._outputs is None and plan is not None:
            if isinstance(plan, int):
                return plan
            count = _planned_count(self.node.attr, plan)
            if count is not None:
                return count
        return len(self.outputs)

    @property
    def device(self) -> str:
        """Read when shown (most ops of a big graph never are)."""
        return self.node.device

    @property
    def control_inputs(self) -> list[str]:
        """Ops that must run first. Computed on demand: TF1 training graphs carry
        hundreds of thousands of control inputs that most views never look at."""
        if not self.has_control:
            return []
        return [t[1:] for t in self.node.input if t[:1] == "^"]

    @property
    def graph(self) -> OpGraph | None:
        return self._graph() if self._graph is not None else None

    @property
    def control_consumers(self) -> list[str]:
        graph = self.graph
        return graph.control_consumers(self.name) if graph is not None else []

    @property
    def input_ops(self) -> list[str]:
        return [t[: t.rindex(":")] for t in self.inputs]

    def attrs(self) -> dict[str, str]:
        """Attributes as short readable strings (``_output_shapes`` left out)."""
        return {
            key: format_attr(value)
            for key, value in sorted(self.node.attr.items())
            if key != "_output_shapes"
        }


def format_attr(value: Any) -> str:
    """A compact one-line rendering of an ``AttrValue``."""
    kind = value.WhichOneof("value")
    if kind == "type":
        return dtype_name(value.type)
    if kind == "shape":
        return format_shape(_shape(value.shape))
    if kind == "s":
        text = value.s.decode("utf-8", "replace")
        return text if len(text) <= 80 else text[:77] + "..."
    if kind in ("i", "f", "b"):
        return str(getattr(value, kind))
    if kind == "tensor":
        t = value.tensor
        return f"{dtype_name(t.dtype)} tensor {format_shape(_shape(t.tensor_shape))}"
    if kind == "func":
        return value.func.name
    if kind == "list":
        lst = value.list
        items: list[str] = (
            [str(v) for v in lst.i] + [str(v) for v in lst.f] + [dtype_name(v) for v in lst.type]
            + [format_shape(_shape(s)) for s in lst.shape]
            + [s.decode("utf-8", "replace") for s in lst.s] + [str(b) for b in lst.b]
        )
        text = "[" + ", ".join(items) + "]"
        return text if len(text) <= 80 else text[:77] + "...]"
    if kind == "placeholder":
        return f"${value.placeholder}"
    return ""


def _shape(proto: Any) -> Shape:
    if proto.unknown_rank:
        return None
    return tuple(d.size if d.size >= 0 else None for d in proto.dim)


_LEAF_CHILDREN: tuple[()] = ()
_LEAF_NAMES: Mapping[str, ScopeNode] = MappingProxyType({})


@dataclass(slots=True, eq=False, weakref_slot=True)
class ScopeNode:
    """One level of the name-scope tree; ``op`` is set when an op has this exact name.

    Most nodes are an op's own leaf: those share one empty ``children`` tuple and one
    empty read-only ``by_name`` (a list and a dict each for 100k leaves cost time to
    make and to free); `child` gives a node its own the first time it gets a child.
    """

    name: str
    path: str
    _parent: weakref.ref[ScopeNode] | None
    op: Op | None = None
    children: list[ScopeNode] | tuple[()] = field(default_factory=list)
    by_name: dict[str, ScopeNode] | Mapping[str, ScopeNode] = field(default_factory=dict)
    row: int = 0  # position in parent.children
    op_count: int = 0  # ops in this subtree, this node's own op included

    @property
    def parent(self) -> ScopeNode | None:
        return self._parent() if self._parent is not None else None

    def child(self, name: str) -> ScopeNode:
        node = self.by_name.get(name)
        if node is None:
            if self.children is _LEAF_CHILDREN:
                self.children, self.by_name = [], {}
            path = f"{self.path}/{name}" if self.path else name
            node = ScopeNode(name, path, weakref.ref(self))
            self.by_name[name] = node  # type: ignore[index]
            self.children.append(node)  # type: ignore[union-attr]
        return node

    def walk(self) -> Iterator[ScopeNode]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def _scope(scopes: dict[str, ScopeNode], path: str) -> ScopeNode:
    """The node for ``path``, created with its missing ancestors, able to take children.

    `ScopeNode.child` inlined: a big graph has a scope for every two ops or so.
    """
    node = scopes.get(path)
    if node is None:
        parent_path, _, leaf = path.rpartition("/")
        parent = _scope(scopes, parent_path)
        node = parent.by_name.get(leaf)
        if node is None:
            node = ScopeNode(leaf, path if parent_path else leaf, weakref.ref(parent), None,
                             [], {})
            parent.by_name[leaf] = node  # type: ignore[index]
            parent.children.append(node)  # type: ignore[union-attr]
        elif node.children is _LEAF_CHILDREN:  # an op's leaf that becomes a scope too
            node.children, node.by_name = [], {}
        scopes[path] = node
    return node


def _finish_tree(root: ScopeNode) -> None:
    """Sort children (scopes before leaves, then by name), set rows and op counts.

    Visits the scopes only, breadth first, so reversed order visits children before
    parents. Leaves were made with their final op count (1 with an op, else 0) and
    get only their row.
    """
    order = [root]
    extend = order.extend
    for node in order:  # a list iterator also visits what is appended while it runs
        children = node.children
        if len(children) > 1:
            children.sort(key=_child_order)  # type: ignore[union-attr]
        for row, child in enumerate(children):
            child.row = row
        extend([child for child in children if child.children])
    count = operator.attrgetter("op_count")
    for node in reversed(order):
        node.op_count = (node.op is not None) + sum(map(count, node.children))


def _child_order(node: ScopeNode) -> tuple[bool, str]:
    return not node.children, node.name.lower()


def _split_tensor_name(text: str) -> tuple[str, int]:
    """``'a:2' -> ('a', 2)``, ``'a' -> ('a', 0)``."""
    name, sep, index = text.rpartition(":")
    if sep and index.isdigit():
        return name, int(index)
    return text, 0


class OpGraph:
    """Every op of a meta graph, indexed by name, with tensors, scopes and a DiGraph.

    ``ops`` holds the main graph only; ops inside function bodies (``tf.function``,
    v2 while loops) are in ``functions`` and in their own tree, ``function_root``.

    Back-pointers (tensor to op, op to graph, scope to parent) are weak, so the
    model holds no reference cycles: it is freed by reference counting the moment
    the last user lets go, even after the GUI moved it out of the cyclic
    collector's sight with ``gc.freeze()`` (a full collection pass over a 10k-op
    model would stall the window for ~100 ms).
    """

    def __init__(self, meta_graph: Any) -> None:
        # The checkpoint whose values go with this graph (set by the loader): the
        # batch-norm rewrite reads a few of them to warn about untrained statistics.
        self.checkpoint_prefix: Path | None = None
        with collector_paused():
            self._build(meta_graph)

    def _build(self, meta_graph: Any) -> None:
        self.meta_graph = meta_graph
        graph_def = meta_graph.graph_def
        op_defs = {
            op.name: (op, _count_plan(op))
            for op in meta_graph.meta_info_def.stripped_op_list.op
        }
        self.op_defs = {name: op_def for name, (op_def, _) in op_defs.items()}
        self._control_consumers: dict[str, list[str]] | None = None

        self.root = ScopeNode("", "", None)
        # type_positions: each op type's positions in ``ops``, in graph order.
        self.ops, self.type_positions = _read_ops(graph_def.node, op_defs, weakref.ref(self),
                                                  self.root)
        _finish_tree(self.root)

        self.functions: dict[str, list[Op]] = {}
        for function in graph_def.library.function:
            fname = function.signature.name
            body = function.node_def
            self.functions[fname] = [_function_op(body, index, node, op_defs, fname)
                                     for index, node in enumerate(body)]

        self.function_root = ScopeNode("", "", None)
        for fname, body in self.functions.items():
            froot = self.function_root.child(fname)
            for op in body:
                node = froot
                for part in op.name.split("/"):
                    node = node.child(part)
                node.op = op
                node.op_count = 1  # final unless it has children too (then counted again)
        _finish_tree(self.function_root)

    def control_consumers(self, name: str) -> list[str]:
        """Ops with a control input on ``name`` (the reverse map is built on first use)."""
        if self._control_consumers is None:
            reverse: dict[str, list[str]] = {}
            for op in self.ops.values():
                for src in op.control_inputs:
                    reverse.setdefault(src, []).append(op.name)
            self._control_consumers = reverse
        return self._control_consumers.get(name, [])

    def __len__(self) -> int:
        return len(self.ops)

    def tensor(self, name: str) -> Tensor | None:
        """Look up ``op:N`` (``op`` alone means ``op:0``) in the main graph."""
        op_name, index = _split_tensor_name(name)
        op = self.ops.get(op_name)
        if op is None or not 0 <= index < len(op.outputs):
            return None
        return op.outputs[index]

    def scope_node(self, path: str) -> ScopeNode | None:
        node = self.root
        for part in path.split("/") if path else []:
            node = node.by_name.get(part)
            if node is None:
                return None
        return node

    @cached_property
    def data_digraph(self) -> nx.DiGraph:
        """Main-graph ops as nodes, one edge per producer -> consumer data dependency."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.ops)
        ops = self.ops
        graph.add_edges_from(
            (src, op.name) for op in ops.values() for src in op.input_ops if src in ops
        )
        return graph

    @cached_property
    def digraph(self) -> nx.DiGraph:
        """`data_digraph` plus control-only edges, marked ``control=True``.

        Costly on training graphs (control edges from ``tf.control_dependencies``
        can outnumber data edges ten to one), so built only when asked for.
        """
        graph = self.data_digraph.copy()
        nx.set_edge_attributes(graph, False, "control")
        ops = self.ops
        graph.add_edges_from(
            ((src, op.name) for op in ops.values() for src in op.control_inputs
             if src in ops and not graph.has_edge(src, op.name)),
            control=True,
        )
        return graph

    def collection_names(self, key: str) -> list[str]:
        """Op names listed in a node-list or variable collection of the meta graph."""
        from app.core.graph.protos import VariableDef

        collection = self.meta_graph.collection_def.get(key)
        if collection is None:
            return []
        kind = collection.WhichOneof("kind")
        if kind == "node_list":
            return [v.rsplit(":", 1)[0] if ":" in v else v for v in collection.node_list.value]
        if kind == "bytes_list" and "variable" in key:
            names = []
            for raw in collection.bytes_list.value:
                var = VariableDef.FromString(raw)
                names.append(var.variable_name.rsplit(":", 1)[0])
            return names
        return []

    def asset_files(self) -> list[str]:
        """Tensor names in the ``asset_filepaths`` collection (vocabulary files)."""
        collection = self.meta_graph.collection_def.get("asset_filepaths")
        if collection is None:
            return []
        return list(collection.node_list.value)


def _read_ops(nodes: Any, op_defs: dict[str, tuple[Any, CountPlan]],
              graph: weakref.ref[OpGraph], root: ScopeNode,
              ) -> tuple[dict[str, Op], dict[str, list[int]]]:
    """Every ``NodeDef`` of the main graph as an `Op`, in one pass that also links
    consumers, places the op's leaf in the scope tree under ``root`` and lists the
    positions of each op type (returned with the ops).

    It runs once per op (100k at the top end) and reads each NodeDef field once
    (every read of a protobuf field makes a new Python object), so it keeps to
    locals and positional construction. Consumers are linked as inputs are read:
    a GraphDef lists nearly every producer before its consumers, and the few
    inputs read before their producer (a while loop's ``NextIteration``) are put
    in front afterwards, which keeps each list in graph order.
    """
    ops: dict[str, Op] = {}
    get_op = ops.get
    types = {name: (op_def, plan, []) for name, (op_def, plan) in op_defs.items()}
    get_type = types.get
    early: list[tuple[str, str]] = []  # (producer, consumer) read before the producer
    # Scope path -> node. An op's own leaf is added only when it gets children.
    scopes = {"": root}
    get_scope = scopes.get
    new_ref = weakref.ref
    leaf_children, leaf_names = _LEAF_CHILDREN, _LEAF_NAMES
    for index, proto in enumerate(nodes):
        name = proto.name
        op_type = proto.op
        known = get_type(op_type)
        if known is None:  # not in the stripped op list
            known = types[op_type] = (None, None, [])
        op_def, plan, positions = known
        positions.append(index)
        inputs: list[str] = []
        control = False
        listed = proto.input
        # A short field is sliced (one C call makes the list: at 100k ops, a third of
        # the time of going through the field item by item); a long one is gone through
        # so that its control inputs, which can number thousands, are never read.
        for text in listed[:] if len(listed) <= _SLICED_INPUTS else listed:
            if text[:1] == "^":  # control inputs come last; most views never read them
                control = True
                break
            if ":" in text:
                source = text.rpartition(":")[0]
            else:
                source = text
                text += ":0"
            inputs.append(text)
            producer = get_op(source)
            if producer is not None:
                producer.consumers.append(name)
            else:
                early.append((source, name))
        op = Op(name, op_type, inputs, nodes, index, op_def, graph, None, [], plan, None,
                control)
        ops[name] = op
        scope, _, leaf = name.rpartition("/")
        parent = get_scope(scope)
        if parent is None:
            parent = _scope(scopes, scope)
        node = parent.by_name.get(leaf)
        if node is None:  # the usual case: an op's name is a leaf of its scope
            node = ScopeNode(leaf, name, new_ref(parent), op, leaf_children, leaf_names, 0, 1)
            parent.by_name[leaf] = node  # type: ignore[index]
            parent.children.append(node)  # type: ignore[union-attr]
        else:  # a scope named like this op came first
            node.op = op
    if len(ops) != len(nodes):  # repeated names: the last op of a name is the one kept
        _relink_consumers(ops)
        by_type: dict[str, list[int]] = {}
        for i, op in enumerate(ops.values()):
            by_type.setdefault(op.type, []).append(i)
        return ops, by_type
    if early:
        _link_early(ops, early)
    return ops, {op_type: positions for op_type, (_, _, positions) in types.items() if positions}


def _link_early(ops: dict[str, Op], early: list[tuple[str, str]]) -> None:
    """Put the consumers read before their producer in front of its list (they come
    before it in the graph; the ones linked on the way come after it)."""
    before: dict[str, list[str]] = {}
    for producer, consumer in early:
        if producer in ops:
            before.setdefault(producer, []).append(consumer)
    for producer, consumers in before.items():
        ops[producer].consumers[:0] = consumers


def _relink_consumers(ops: dict[str, Op]) -> None:
    """Consumers from the ops that were kept, for a graph that repeats op names."""
    for op in ops.values():
        op.consumers = []
    get = ops.get
    for name, op in ops.items():
        for tensor in op.inputs:
            src = get(tensor.rpartition(":")[0])
            if src is not None:
                src.consumers.append(name)


def _function_op(body: Any, index: int, node: Any,
                 op_defs: dict[str, tuple[Any, CountPlan]], function: str) -> Op:
    """The op of ``node``, the ``index``-th NodeDef of ``function``'s ``body``."""
    op_type = node.op
    op_def, plan = op_defs.get(op_type, (None, None))
    return Op(node.name, op_type, _data_inputs(node), body, index, op_def, None, function, [],
              plan)


def _data_inputs(node: Any) -> list[str]:
    """Data inputs as ``op:N``. TensorFlow keeps control inputs (``^op``) after all data
    inputs, so the scan stops at the first one: training graphs can carry hundreds of
    thousands of control inputs, and each one read would become a Python string."""
    inputs = []
    for text in node.input:
        if text[:1] == "^":
            break
        inputs.append(text if ":" in text else text + ":0")
    return inputs


def _outputs_of(op: Op) -> list[Tensor]:
    attr = op.node.attr
    shapes: list[Shape] | None = None
    if "_output_shapes" in attr:
        shapes = [_shape(s) for s in attr["_output_shapes"].list.shape]
    dtypes = _output_dtypes(attr, op.op_def) if op.op_def is not None else None
    if dtypes is None:
        dtypes = ["unknown"] * (len(shapes) if shapes is not None else 1)
    return [
        Tensor(op, index, dtype,
               shapes[index] if shapes is not None and index < len(shapes) else None)
        for index, dtype in enumerate(dtypes)
    ]


def _count_plan(op_def: Any) -> CountPlan:
    """See `CountPlan`. Read once per op type: OpDef fields are slow to read."""
    args = tuple((a.type_list_attr, a.number_attr, a.type_attr) for a in op_def.output_arg)
    if any(type_list or number for type_list, number, _ in args):
        return args
    return len(args)


def _planned_count(attr: Any, plan: tuple[tuple[str, str, str], ...]) -> int | None:
    """``len(_output_dtypes(attr, op_def))`` from the op def's plan, without naming
    the dtypes; None where that would be None (an attribute it needs is missing)."""
    count = 0
    for type_list, number, type_attr in plan:
        if type_list:
            if type_list not in attr:
                return None
            count += len(attr[type_list].list.type)
        elif number:
            if number not in attr or (type_attr and type_attr not in attr):
                return None
            count += max(attr[number].i, 0)
        elif type_attr and type_attr not in attr:
            return None
        else:
            count += 1
    return count


def _output_dtypes(attr: Any, op_def: Any) -> list[str] | None:
    dtypes: list[str] = []
    for arg in op_def.output_arg:
        if arg.type_list_attr:
            if arg.type_list_attr not in attr:
                return None
            names = [dtype_name(t) for t in attr[arg.type_list_attr].list.type]
        else:
            if arg.type_attr:
                if arg.type_attr not in attr:
                    return None
                base = attr[arg.type_attr].type
            else:
                base = arg.type
            count = 1
            if arg.number_attr:
                if arg.number_attr not in attr:
                    return None
                count = attr[arg.number_attr].i
            names = [dtype_name(base)] * count
        if arg.is_ref:
            names = [n + "_ref" for n in names]
        dtypes.extend(names)
    return dtypes
