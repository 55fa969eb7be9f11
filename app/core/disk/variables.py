"""The checkpoint's saved variables, each classed as trainable, model state or training-only.

Training-only variables (optimizer slots, ``beta1_power``, ``global_step``,
moving-average copies) are what a serving-only export (the default) leaves behind. A slot is
known by where it sits (under a trainable variable's name) as well as by the
optimizers' own slot names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app.core.disk.bundle_index import BundleIndex

_TRAINING_ONLY = re.compile(
    r"""(
        /(Adam|Adam_\d+|Adamax(_\d+)?|Nadam(_\d+)?|Momentum|RMSProp(_\d+)?|Adagrad|AdagradDA(_\d+)?
          |Ftrl(_\d+)?|Adadelta(_\d+)?|AdaDelta(_\d+)?|ProximalAdagrad|LazyAdam(_\d+)?
          |ExponentialMovingAverage|accumulator(_\d+)?)$
      | (^|/)(beta1_power|beta2_power)(_\d+)?$
      | (^|/)global_step$
      | (^|/)(optimizer|training)/
    )""",
    re.VERBOSE,
)


class Role(StrEnum):
    TRAINABLE = "trainable"
    MODEL = "model"  # non-trainable state the model needs (batch-norm moving stats)
    TRAINING = "training-only"


def role_of(name: str, trainable: set[str]) -> Role:
    if name in trainable:
        return Role.TRAINABLE
    if _TRAINING_ONLY.search(name) or _is_slot(name, trainable):
        return Role.TRAINING
    return Role.MODEL


def _is_slot(name: str, trainable: set[str]) -> bool:
    """True for ``<trainable variable>/<anything>``: optimizers name their per-variable
    slots so (``kernel/Adam``, AdamWeightDecay's ``kernel/adam_m``, LAMB's, any custom
    one), while model state such as ``bn/moving_mean`` sits beside its layer's
    weights, never under one."""
    end = name.find("/")
    while end != -1:
        if name[:end] in trainable:
            return True
        end = name.find("/", end + 1)
    return False


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    role: Role


@dataclass(frozen=True)
class VariableInventory:
    variables: list[Variable]

    @classmethod
    def from_index(cls, index: BundleIndex, trainable: set[str]) -> VariableInventory:
        return cls(
            [
                Variable(e.name, e.dtype, e.shape, e.nbytes, role_of(e.name, trainable))
                for e in sorted(index.entries.values(), key=lambda e: e.name)
            ]
        )

    @property
    def count(self) -> int:
        return len(self.variables)

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in self.variables)

    @property
    def training_bytes(self) -> int:
        return sum(v.nbytes for v in self.variables if v.role is Role.TRAINING)

    def by_name(self) -> dict[str, Variable]:
        return {v.name: v for v in self.variables}
