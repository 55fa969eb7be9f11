"""Real examples for verification and the warmup file: what a client really sends.

Synthetic samples are not what a model accepts (its own assertions may refuse them) and
never what its clients send. A `Samples` is a few batches of real examples keyed by
signature input key, with the words saying where they came from:

- `app.core.samples.files`: a samples file (``--samples FILE``): a TF Serving REST
  predict body, an ``.npz`` keyed by input, or a TFRecord of ``tf.Example``;
- `app.core.samples.pipeline`: batches drawn from the training graph's own input
  pipeline when its data files still exist;
- `app.core.samples.fixed_batch`: the training batch size baked into the served path
  (verification and warmup run at it; a ``warning:`` says it);
- `app.core.samples.asserts`: a sample that trips one of the graph's assertions, said as
  the sample's fault and not the model's.

Plain Python and numpy here; the readers import TensorFlow only where they need it.

Room of the real examples: may import `graph`, `signature`, `disk`, `serving`, `rewrite`,
`proposal` and the top modules, never `validation` and above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.errors import ExportError
from app.core.graph.opgraph import OpGraph
from app.core.signature.draft import Draft, tensor_name


class SamplesError(ExportError):
    """A samples file that cannot be read or does not fit the signatures."""


@dataclass
class Samples:
    """Batches of examples (input key -> array, one batch per dict) and their origin."""

    batches: list[dict[str, Any]]
    origin: str  # "samples.npz (4 examples)", "drawn from the training pipeline (...)"

    def first(self, keys: set[str]) -> dict[str, Any]:
        """The first batch's arrays for these input keys (the others left out)."""
        return {k: v for k, v in self.batches[0].items() if k in keys} if self.batches else {}

    def for_signature(self, keys: set[str]) -> list[dict[str, Any]]:
        """Every batch that feeds at least one of these input keys, cut to them."""
        return [cut for cut in ({k: v for k, v in b.items() if k in keys}
                                for b in self.batches) if cut]


@dataclass(frozen=True)
class InputSpec:
    """What a signature input takes: dtype name, static shape, parse_example feature."""

    dtype: str
    shape: tuple[int | None, ...] | None
    feature: str | None = None  # the tf.Example feature key a parsed input comes from


@dataclass
class SignatureInputs:
    """Each signature's inputs, by signature key then input key."""

    specs: dict[str, dict[str, InputSpec]] = field(default_factory=dict)

    def all_keys(self) -> set[str]:
        return {k for inputs in self.specs.values() for k in inputs}

    def spec(self, key: str) -> InputSpec | None:
        """The first signature's spec for input ``key`` (keys mean one thing across them)."""
        for inputs in self.specs.values():
            if key in inputs:
                return inputs[key]
        return None


def signature_inputs(draft: Draft, graph: OpGraph) -> SignatureInputs:
    """The draft's inputs as the checkpoint graph holds them (before any rewiring)."""
    from app.core.proposal.sources import find_sources

    sources = find_sources(graph)
    out = SignatureInputs()
    for sig in draft.signatures:
        specs = out.specs.setdefault(sig.key, {})
        for slot in sig.inputs:
            name = tensor_name(slot.tensor)
            t = graph.tensor(name)
            if t is None:
                continue
            source = sources.get(name)
            specs[slot.key] = InputSpec(t.dtype.removesuffix("_ref"), t.shape,
                                        source.feature_key if source is not None else None)
    return out
