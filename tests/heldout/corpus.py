"""Every held-out program built in one TF1-behaviour child process (a TensorFlow start is
the slow part): ``build("tests.heldout.corpus:build_all", directory, legacy_keras=True,
names=[...])`` returns ``{name: facts}``."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

PROGRAMS = ["bert_classifier", "parameter_server", "slim_mobilenet", "nmt_attention_decoder",
            "pix2pix", "tensor2tensor_transformer", "autoencoder_vae"]


def build_all(directory: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    facts = {}
    for name in names:
        (directory / name).mkdir(parents=True, exist_ok=True)
        facts[name] = importlib.import_module(f"tests.heldout.{name}").build(directory / name)
    return facts
