"""The development corpus of TF1 training programs (issue 23).

Each module imitates one public TF1 program (its docstring names the repository and
file), trains it a few steps in TF1 behaviour, saves it as that program did, and serves
its inference twin; ``build(directory)`` returns the facts `tests.program_checks`
documents. `build_corpus` runs several in one child process (`tests.isolated_build`):
a TensorFlow start is the slow part.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

PROGRAMS = (
    "cifar10_queue",
    "mnist_keep_prob",
    "slim_is_training",
    "facenet_style",
    "gpt2_finetune",
    "char_rnn",
    "dcgan",
    "seq2seq_teacher_forcing",
    "multi_head",
    "parse_example_encoder",
    "estimator_style",
    "sequence_mse",
    "t2t_classifier",
)


def build_corpus(directory: Path, names: list[str]) -> dict[str, Any]:
    """``build`` of each named program into ``directory/<name>``; legacy Keras' global
    state is reset between programs so layer names start afresh."""
    import tf_keras

    built = {}
    for name in names:
        tf_keras.backend.clear_session()
        (directory / name).mkdir(parents=True, exist_ok=True)
        built[name] = importlib.import_module(f"tests.programs.{name}").build(directory / name)
    return built
