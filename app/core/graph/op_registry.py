"""Which op types of a graph this TensorFlow cannot run, and which package provides them.

Reading and showing a graph never needs kernels, but exporting imports it, and
an op type nobody registered fails there with a cryptic message. Checking
against TensorFlow's op registry first gives one clear line instead.
"""

from __future__ import annotations

from typing import Any

from app.core.graph.opgraph import OpGraph

# Op-type prefixes or names of well-known extension packages.
_PROVIDERS = [
    ("Addons>", "tensorflow-addons"),
    ("Sentencepiece", "tensorflow-text"),
    ("WordpieceTokenize", "tensorflow-text"),
    ("WhitespaceTokenize", "tensorflow-text"),
    ("UnicodeScriptTokenize", "tensorflow-text"),
    ("RegexSplitWithOffsets", "tensorflow-text"),
    ("CaseFoldUTF8", "tensorflow-text"),
    ("NormalizeUTF8", "tensorflow-text"),
    ("FastWordpiece", "tensorflow-text"),
    ("SentencepieceEncode", "tf-sentencepiece"),
    ("IO>", "tensorflow-io"),
    ("TFRA>", "tensorflow-recommenders-addons"),
    ("Hub", "tensorflow-hub"),
]


def unregistered_op_types(graph: OpGraph) -> list[str]:
    """Op types used in the main graph or its functions that TensorFlow does not know."""
    return unregistered_in_meta_graph(graph.meta_graph)


def unregistered_in_meta_graph(meta_graph: Any) -> list[str]:
    """The same check on a ``MetaGraphDef`` (e.g. the pruned one an export imports)."""
    from app.core.tf_runtime import tensorflow

    tensorflow()
    from tensorflow.python.framework import op_def_registry

    library = meta_graph.graph_def.library.function
    used = {node.op for node in meta_graph.graph_def.node}
    used |= {node.op for function in library for node in function.node_def}
    # A call to a function of the graph's own library is not an op type.
    functions = {function.signature.name for function in library}
    return sorted(t for t in used - functions if op_def_registry.get(t) is None)


def providers(op_types: list[str]) -> list[str]:
    """Packages known to register some of ``op_types`` (empty when none is known)."""
    found = []
    for op_type in op_types:
        for prefix, package in _PROVIDERS:
            if op_type.startswith(prefix) and package not in found:
                found.append(package)
    return found


def unregistered_message(op_types: list[str]) -> str:
    """One line naming the missing op types and what to install (or, for a node with no op
    type at all, that the graph is damaged: no package registers "")."""
    if "" in op_types:
        return ("has a node with an empty op type, which no library registers: the graph "
                "is damaged — save the meta graph again from the training program")
    op_types = [t if t.isprintable() else repr(t) for t in op_types]
    shown = ", ".join(op_types[:8]) + (f" and {len(op_types) - 8} more" if len(op_types) > 8
                                       else "")
    packages = providers(op_types)
    fix = (f"install {' or '.join(packages)} in this environment" if packages
           else "install the package or load the library (tf.load_op_library) that "
                "registers them")
    return f"uses op types this TensorFlow does not register: {shown} — {fix}"
