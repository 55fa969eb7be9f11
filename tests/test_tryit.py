"""The Try-it core: sample body, inputs from files, top-k, answers from the draft's export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.core.errors import SignetError
from app.core.export.tryit import (
    TryRunner,
    body_from_arrays,
    load_input,
    sample_request,
    top_k,
    why_no_top_k,
)
from app.core.loader import load_checkpoint
from app.core.signature.draft import Draft, Signature, Slot
from app.core.tf_runtime import tensorflow
from tests.builders import checkpoint_outputs


def _cnn_draft() -> Draft:
    return Draft([Signature(inputs=[Slot("images", "images:0")],
                            outputs=[Slot("probabilities", "probabilities:0"),
                                     Slot("classes", "classes:0")])])



def test_the_draft_answers_the_sample_body_and_an_image(cnn, tmp_path):
    loaded = load_checkpoint(cnn.latest)
    draft = _cnn_draft()
    body = sample_request(draft, loaded.graph)
    parsed = json.loads(body)
    assert parsed["signature_name"] == "serving_default"
    assert np.array(parsed["instances"]).shape == (1, 8, 8, 1)
    runner = TryRunner()
    try:
        answer = runner.respond(loaded, draft, body)
        assert answer.ok, answer.text
        sent = np.array(parsed["instances"], np.float32)
        want = checkpoint_outputs(cnn.latest, {"images:0": sent}, "probabilities:0")
        np.testing.assert_allclose(answer.outputs["probabilities"], want, rtol=1e-5)
        assert json.loads(answer.text)["predictions"][0]["classes"] == int(want.argmax())
        ranked = top_k(answer.outputs["probabilities"], 2, ["cat", "dog", "fish"])
        assert [r[0] for r in ranked] == list(np.argsort(-want[0])[:2])
        assert ranked[0][2] == ["cat", "dog", "fish"][ranked[0][0]]
        # An image, resized to the input's 8x8x1 and scaled to 0..1.
        tf = tensorflow()
        pixels = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16, 1)
        png = tmp_path / "digit.png"
        png.write_bytes(tf.io.encode_png(pixels).numpy())
        images = load_input(png, "float32", (None, 8, 8, 1), "0..1")
        assert images.shape == (1, 8, 8, 1) and 0.0 <= images.min() < images.max() <= 1.0
        answer = runner.respond(loaded, draft, body_from_arrays("serving_default",
                                                                {"images": images}, True))
        want = checkpoint_outputs(cnn.latest, {"images:0": images}, "probabilities:0")
        np.testing.assert_allclose(answer.outputs["probabilities"], want, rtol=1e-5)
        bad = runner.respond(loaded, draft, '{"instances": [[1.0]], "inputs": []}')
        assert not bad.ok and "only one of 'inputs' or 'instances'" in bad.text
    finally:
        runner.close()


def test_inputs_from_npy_npz_and_text(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 3), np.float32))
    np.savez(tmp_path / "b.npz", x=np.zeros(4, np.int64))
    (tmp_path / "t.txt").write_text("the cat\nsat\n", encoding="utf-8")
    assert load_input(tmp_path / "a.npy", "float32", (None, 3)).shape == (2, 3)
    assert load_input(tmp_path / "b.npz", "int64", (None,)).tolist() == [0, 0, 0, 0]
    assert load_input(tmp_path / "t.txt", "string", (None,)).tolist() == [b"the cat", b"sat"]
    with pytest.raises(SignetError, match=r"x\.bin: use a \.npy or \.npz array"):
        load_input(tmp_path / "x.bin", "float32", (None,))
    with pytest.raises(SignetError, match=r"an image fits an \[N,H,W,C\] input"):
        load_input(tmp_path / "x.png", "float32", (None, 3))


def test_top_k_only_for_probability_vectors():
    assert top_k(np.array([0.1, 0.7, 0.2], np.float32), 2) == [
        (1, pytest.approx(0.7), ""), (2, pytest.approx(0.2), "")]
    assert top_k(np.array([3.0, -1.0, 2.0])) == []  # logits
    assert top_k(np.array([[0.5, 0.5], [0.2, 0.8]])) == []  # several rows
    assert "a batch of 2 examples ([2, 2])" in why_no_top_k(np.array([[0.5, 0.5], [0.2, 0.8]]))
    assert "not probabilities" in why_no_top_k(np.array([3.0, -1.0, 2.0]))
    assert "int64 values" in why_no_top_k(np.array([1, 2]))
    assert why_no_top_k(np.array([[0.25, 0.75]], np.float32)) is None
