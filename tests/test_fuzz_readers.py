"""Mutated ``.meta`` and ``.index`` bytes give clean errors: never a crash or a hang."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import CheckpointError
from app.core.loader import load_checkpoint

SETTINGS = settings(max_examples=60, deadline=2000, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture(scope="module")
def originals(gpu_pinned, tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    prefix = gpu_pinned.latest
    meta = prefix.with_name(prefix.name + ".meta").read_bytes()
    index = prefix.with_name(prefix.name + ".index").read_bytes()
    return work, prefix, meta, index


mutation = st.lists(
    st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=12
)


def _mutate(data: bytes, edits, cut: float | None) -> bytes:
    out = bytearray(data)
    for where, value in edits:
        out[int(where * len(out))] = value
    if cut is not None:
        out = out[: int(cut * len(out))]
    return bytes(out)


def _load(work, prefix, suffix: str, data: bytes) -> None:
    target = work / "case"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(prefix.parent, target)
    (target / (prefix.name + suffix)).write_bytes(data)
    try:
        loaded = load_checkpoint(target / prefix.name)
    except CheckpointError as exc:
        message = str(exc)
        assert "\n" not in message and str(target) in message
        return
    # A mutation that still parses must give a usable model.
    _ = loaded.suggestions
    loaded.search_index.search("x")
    loaded.summary()


@SETTINGS
@given(edits=mutation, cut=st.one_of(st.none(), st.floats(0, 1)))
def test_mutated_meta(originals, edits, cut):
    work, prefix, meta, _ = originals
    _load(work, prefix, ".meta", _mutate(meta, edits, cut))


@SETTINGS
@given(edits=mutation, cut=st.one_of(st.none(), st.floats(0, 1)))
def test_mutated_index(originals, edits, cut):
    work, prefix, _, index = originals
    _load(work, prefix, ".index", _mutate(index, edits, cut))


@SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_bytes(originals, data):
    work, prefix, _, _ = originals
    _load(work, prefix, ".meta", data)
    _load(work, prefix, ".index", data)
