"""Session-scoped real checkpoints, and a clean environment for every test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from app.core.loader import load_checkpoint
from tests import builders


@pytest.fixture(autouse=True)
def _no_debug_left_over(monkeypatch):
    """`signet --debug …` run in this process sets SIGNET_DEBUG for the processes it
    starts; no test inherits it from the one before."""
    monkeypatch.delenv("SIGNET_DEBUG", raising=False)


@pytest.fixture(scope="session")
def skip_thoughts(tmp_path_factory):
    return builders.skip_thoughts(tmp_path_factory.mktemp("ckpt") / "skip_thoughts")


@pytest.fixture(scope="module")
def loaded(skip_thoughts):
    """The skip-thoughts checkpoint's newest step, opened once per test module."""
    return load_checkpoint(skip_thoughts.directory)


@pytest.fixture(scope="session")
def cnn(tmp_path_factory):
    return builders.build_cnn(tmp_path_factory.mktemp("ckpt") / "cnn")


@pytest.fixture(scope="session")
def vocab_table(tmp_path_factory):
    return builders.build_vocab_table(tmp_path_factory.mktemp("ckpt") / "vocab")


@pytest.fixture(scope="session")
def gpu_pinned(tmp_path_factory):
    return builders.build_gpu_pinned(tmp_path_factory.mktemp("ckpt") / "gpu")


@pytest.fixture(scope="session")
def foreign_state(skip_thoughts, tmp_path_factory):
    return builders.copy_with_foreign_state(
        skip_thoughts, tmp_path_factory.mktemp("ckpt") / "moved"
    )
