"""A sample that trips one of the graph's own assertions, said as what it is.

Models check their inputs: ``tf.contrib.seq2seq``'s attention asserts that every
``memory_sequence_length`` is positive, input pipelines assert lengths against the ids.
When verification's run fails in an ``Assert`` op, the model did not fail: the
sample did. The message names the assertion and the signature inputs it reads; when
those inputs were made up by Signet it says the sample is at fault, not the model, and
asks for real examples (``--samples FILE``). Nothing is published either way.
"""

from __future__ import annotations

import re
from typing import Any

from app.core.errors import error_line

_NODE = re.compile(r"\{\{node ([^}]+)\}\}")
SAMPLES_HINT = ("give real examples with --samples FILE (a TF Serving REST predict body, an "
                ".npz keyed by input, or a TFRecord of tf.Example; Try It's \"Save as "
                "samples…\" writes one)")


def failed_assertion(graph: Any, exc: BaseException) -> Any:
    """The ``Assert`` op of ``graph`` (a ``tf.Graph``) the error ``exc`` comes from, or None."""
    names = [getattr(getattr(exc, "op", None), "name", None), *_NODE.findall(str(exc))]
    for name in names:
        if not name:
            continue
        try:
            op = graph.get_operation_by_name(name)
        except (KeyError, ValueError):
            continue
        if op.type == "Assert":
            return op
    return None


def inputs_read(op: Any, inputs: dict[str, str]) -> list[str]:
    """The keys of ``inputs`` (key -> tensor name) whose values reach ``op``, sorted."""
    by_tensor = {name: key for key, name in inputs.items()}
    found: set[str] = set()
    seen = {op.name}
    stack = [op]
    while stack:
        current = stack.pop()
        for t in current.inputs:
            if t.name in by_tensor:
                found.add(by_tensor[t.name])
            elif t.op.name not in seen:
                seen.add(t.op.name)
                stack.append(t.op)
    return sorted(found)


def assertion_message(graph: Any, exc: BaseException, signature: str,
                      inputs: dict[str, str], synthetic: set[str], origin: str | None
                      ) -> str | None:
    """The refusal for a run that failed in an assertion (see module doc), or None when
    the failure is no assertion's."""
    op = failed_assertion(graph, exc)
    if op is None:
        return None
    read = inputs_read(op, inputs) or sorted(inputs)
    said = ", ".join(repr(k) for k in read)
    what = f"assertion `{op.name}` ({error_line(exc)})"
    made_up = [k for k in read if k in synthetic]
    if made_up:
        return (f"verification: Signet's synthetic sample for input(s) "
                f"{', '.join(repr(k) for k in made_up)} of signature {signature!r} trips the "
                f"graph's {what}; this is the sample's fault, not the model's: the model "
                f"checks its inputs and made-up values do not pass; {SAMPLES_HINT}; nothing "
                "was published")
    return (f"verification: the samples ({origin or 'given'}) for input(s) {said} of "
            f"signature {signature!r} trip the graph's {what}; the model refuses these "
            "examples: give examples it accepts; nothing was published")
