"""Verification and warmup on real examples (issue 24): ``--samples FILE``, batches drawn
from the checkpoint's own pipeline, the graph's checks on synthetic samples, fixed batch
sizes said, and batch mixing above a batch of 3 caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.core.serving.rest import request_body
from tests import program_checks
from tests.isolated_build import build
from tests.samples_programs import mixes_above_three


@pytest.fixture(scope="module")
def nmt(tmp_path_factory) -> dict:
    return build("tests.samples_programs:nmt_with_checks",
                 tmp_path_factory.mktemp("nmt"), legacy_keras=True)


def _flags(facts: dict) -> list[str]:
    flags = []
    for key, tensor in facts["inputs"].items():
        flags += ["--input", f"{key}={tensor}"]
    for key, tensor in facts["outputs"].items():
        flags += ["--output", f"{key}={tensor}"]
    return flags


def _refused(capsys, *argv) -> str:
    code = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    assert code != 0, err
    return err


def test_nmt_without_its_data_is_refused_as_the_samples_fault(nmt, tmp_path, capsys):
    folder = Path(nmt["prefix"]).parent
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for name in ("train.de", "train.en"):
        shutil.move(folder / name, hidden / name)
    try:
        err = _refused(capsys, "export", nmt["prefix"], "--out", tmp_path / "out", "--name",
                       "nmt", *_flags(nmt))
    finally:
        for name in ("train.de", "train.en"):
            shutil.move(hidden / name, folder / name)
    assert "synthetic sample for input(s) 'source', 'source_length'" in err, err
    assert "assertion `dynamic_seq2seq/encoder/assert_equal" in err, err
    assert "every source length must count the ids" in err
    assert "the sample's fault, not the model's" in err and "--samples FILE" in err
    assert not (tmp_path / "out" / "nmt").exists() or \
        not any(p.name.isdigit() for p in (tmp_path / "out" / "nmt").iterdir())


def test_nmt_exports_with_samples_from_its_own_text_files(nmt, tmp_path):
    version, printed = program_checks.export(nmt["prefix"], tmp_path, *_flags(nmt),
                                             name="nmt")
    assert "Samples: drawn from the training pipeline (2 batch(es) of 4 example(s) from " \
           "train.de, train.en)" in printed, printed
    program_checks.assert_serves_as_twin(version, nmt)


def test_nmt_exports_with_samples_npz_and_warms_up_on_them(nmt, tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2

    from app.core.tf_runtime import tensorflow

    version, printed = program_checks.export(nmt["prefix"], tmp_path, *_flags(nmt),
                                             "--samples", nmt["samples"], name="nmt")
    assert "Samples: samples.npz (.npz, 4 example(s))" in printed, printed
    program_checks.assert_serves_as_twin(version, nmt)
    tf = tensorflow()
    raws = list(tf.compat.v1.io.tf_record_iterator(
        str(version / "assets.extra" / "tf_serving_warmup_requests")))
    logs = [prediction_log_pb2.PredictionLog.FromString(r) for r in raws]
    given = program_checks.load_arrays(nmt["samples"])
    assert len(logs) == 1 + 4  # the batch, then each example alone
    sent = [{k: tf.make_ndarray(v) for k, v in log.predict_log.request.inputs.items()}
            for log in logs]
    for key, value in given.items():
        np.testing.assert_array_equal(sent[0][key], value)
        for i in range(4):
            np.testing.assert_array_equal(sent[1 + i][key], value[i:i + 1])


def test_nmt_exports_with_a_rest_body_as_samples(nmt, tmp_path):
    given = program_checks.load_arrays(nmt["samples"])
    body = tmp_path / "request.json"
    body.write_text(json.dumps(request_body("serving_default", given, row_ok=True)))
    version, printed = program_checks.export(nmt["prefix"], tmp_path / "out", *_flags(nmt),
                                             "--samples", str(body), name="nmt")
    assert "Samples: request.json (REST predict body, 4 example(s))" in printed, printed
    program_checks.assert_serves_as_twin(version, nmt)


def test_a_samples_file_that_fits_no_input_is_refused(nmt, tmp_path, capsys):
    np.savez(tmp_path / "wrong.npz", words=np.zeros((2, 3), np.int32))
    err = _refused(capsys, "export", nmt["prefix"], "--out", tmp_path / "out", "--name",
                   "nmt", *_flags(nmt), "--samples", tmp_path / "wrong.npz")
    assert "wrong.npz: no signature has input(s) words; key the arrays by input: " \
           "source, source_length, target_input, target_length" in err, err


def test_a_queue_fed_parse_example_model_exports_with_a_tfrecord_and_its_own_data(
        tmp_path):
    from tests.heldout.twin import int_feature, write_records

    facts = build("tests.programs.parse_example_encoder:build", tmp_path / "ckpt",
                  legacy_keras=True)
    ids = program_checks.load_arrays(facts["samples"])["features"]
    records = write_records(tmp_path / "requests.tfrecord",
                            [{"features": int_feature(row[row > 0])} for row in ids])
    version, printed = program_checks.export(facts["prefix"], tmp_path / "out",
                                             *_flags(facts), "--samples", str(records))
    assert "Samples: requests.tfrecord (TFRecord of tf.Example, 3 example(s))" in printed
    program_checks.assert_serves_as_twin(version, facts)
    # Without a file: drawn from its own TFRecord through its queue runners.
    version, printed = program_checks.export(facts["prefix"], tmp_path / "drawn",
                                             *_flags(facts))
    assert "Samples: drawn from the training pipeline (2 batch(es) of 6 example(s) from " \
           "train-00000-of-00001)" in printed, printed
    program_checks.assert_serves_as_twin(version, facts)


def test_a_fixed_batch_model_warns_and_exports_verified_at_its_batch(tmp_path, capsys):
    facts = build("tests.samples_programs:fixed_batch_model", tmp_path / "ckpt")
    warning = ("accepts batches of exactly 2 only: `model/Reshape_1` has the training batch "
               "size in its shape")
    assert main(["inspect", facts["prefix"]]) == 0
    assert warning in capsys.readouterr().out
    version, printed = program_checks.export(facts["prefix"], tmp_path / "out", "--input",
                                             f"x={facts['input']}", "--output",
                                             "y=model/Reshape_1:0")
    assert f"warning: signature 'serving_default': {warning}" in printed, printed
    assert "Verification: verified 1 signature(s)" in printed
    answers = program_checks.serve(version, [{"x": np.ones((2, 4), np.float32)}])
    assert answers[0]["y"].shape == (2, 3)


def test_a_model_mixing_examples_only_above_a_batch_of_three_is_refused(tmp_path, capsys):
    (tmp_path / "ckpt").mkdir()
    facts = mixes_above_three(tmp_path / "ckpt")
    err = _refused(capsys, "export", facts["prefix"], "--out", tmp_path / "out", "--name",
                   "mix", "--input", "x=x:0", "--output", "y=y:0")
    assert "output 'y' mixes the examples of a batch: example 1 sent alone differs" in err, err
    assert "in a batch of 8" in err


def test_presets_keep_the_samples_file_and_older_presets_load_without_one(tmp_path):
    from app.core.signature.draft import Draft, Signature, Slot
    from app.core.signature.preset import from_json, load_preset, save_preset, to_json

    draft = Draft([Signature(inputs=[Slot("x", "x:0")], outputs=[Slot("y", "y:0")])])
    assert "samples" not in to_json(draft)["export"]  # unset: the file stays as it was
    draft.options.samples = "requests/batch.json"
    loaded = load_preset(save_preset(draft, tmp_path / "p.json"))
    assert loaded.options.samples == "requests/batch.json"
    old = {"format": "signet-preset", "version": 1, "signatures": [],
           "export": {"name": "m", "base": "b", "strip_training": False}}
    assert from_json(old).options.samples == ""
    with pytest.raises(Exception, match="export samples must be text"):
        from_json({**old, "export": {"samples": 3}})


def test_the_fixed_batch_warning_is_in_validation_and_inspect_json(tmp_path, capsys):
    from app.core.loader import load_checkpoint
    from app.core.signature.draft import Draft, Level, Signature, Slot
    from app.core.validation.draft import validate

    facts = build("tests.samples_programs:fixed_batch_model", tmp_path / "ckpt")
    graph = load_checkpoint(facts["prefix"]).graph
    draft = Draft([Signature(inputs=[Slot("x", facts["input"])],
                             outputs=[Slot("y", "model/Reshape_1:0")])])
    warnings = [str(p) for p in validate(draft, graph) if p.level is Level.WARNING]
    assert any(w.startswith("signature 'serving_default': accepts batches of exactly 2 "
                            "only: `model/Reshape_1`") for w in warnings), warnings
    assert main(["inspect", facts["prefix"], "--json"]) == 0
    (hit,) = json.loads(capsys.readouterr().out)["fixed_batch"]
    assert (hit["size"], hit["op"]) == (2, "model/Reshape_1")


def test_synthetic_masks_are_ones_so_a_model_checking_them_exports(tmp_path):
    from tests.samples_programs import masked_mean

    (tmp_path / "ckpt").mkdir()
    facts = masked_mean(tmp_path / "ckpt")
    version, printed = program_checks.export(facts["prefix"], tmp_path / "out", "--input",
                                             "features=features:0", "--input", "mask=mask:0",
                                             "--output", "mean=mean:0")
    assert "Verification: verified 1 signature(s)" in printed
    features = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    (answer,) = program_checks.serve(version, [{"features": features,
                                                "mask": np.array([[1, 1, 0], [0, 0, 1]],
                                                                 np.int32)}])
    assert answer["mean"].shape == (2,)


def test_samples_files_read_as_the_signature_takes_them(tmp_path):
    from app.core.samples import InputSpec, SamplesError, SignatureInputs
    from app.core.samples.files import read_samples
    from tests.heldout.twin import bytes_feature, int_feature, write_records

    inputs = SignatureInputs({"serving_default": {
        "ids": InputSpec("int64", (None, None), "tokens"),
        "image_bytes": InputSpec("string", (None,), None)}})
    records = write_records(tmp_path / "r.tfrecord", [
        {"tokens": int_feature([3, 4, 5]), "image_bytes": bytes_feature(b"\x89PNG\x00")},
        {"tokens": int_feature([6]), "image_bytes": bytes_feature(b"\x00")}])
    batch = read_samples(records, inputs).batches[0]
    np.testing.assert_array_equal(batch["ids"], [[3, 4, 5], [6, 0, 0]])  # padded as dense
    assert batch["image_bytes"].tolist() == [b"\x89PNG\x00", b"\x00"]  # NUL bytes kept
    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps({"inputs": {"ids": [[1, 2]], "image_bytes": [
        {"b64": "AAE="}]}}))
    batch = read_samples(columns, inputs).batches[0]
    assert batch["ids"].tolist() == [[1, 2]] and batch["image_bytes"].tolist() == [b"\x00\x01"]
    columns.write_text(json.dumps({"instances": [{"ids": [1.5]}]}))
    with pytest.raises(SamplesError, match=r"columns.json: TensorFlow Serving would refuse "
                                           r"this predict body: .*JSON Value: 1.5 Type: "
                                           r"Number is not of expected type: int64"):
        read_samples(columns, inputs)
    np.savez(tmp_path / "s.npz", image_bytes=np.array(["a", "b"]), ids=np.ones((3, 2)))
    with pytest.raises(SamplesError, match="input 'ids' takes int64, the file holds float64"):
        read_samples(tmp_path / "s.npz", inputs)
    np.savez(tmp_path / "s.npz", image_bytes=np.array(["a", "b"]), ids=np.ones((3, 2), int))
    with pytest.raises(SamplesError, match=r"different numbers of examples \(ids: 3, "
                                           r"image_bytes: 2\)"):
        read_samples(tmp_path / "s.npz", inputs)
    with pytest.raises(SamplesError, match="no such samples file"):
        read_samples(tmp_path / "gone.json", inputs)
