"""`signet export`: flags, presets, one-line errors with nothing published, kill -9 safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from app.cli import build_parser, main
from app.commands.export import draft_from_args
from app.core.export import publish
from tests.export_stop import cli_argv

ROOT = Path(__file__).resolve().parents[1]


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _skip_args(built, base: Path, *extra) -> list:
    return [
        "export", built.latest, "--out", base, "--name", "enc",
        "--input", "ids=encode_ids", "--input", "mask=encode_mask:0",
        "--output", "vec=encoder_out/thought_vectors", *extra,
    ]


def test_repeated_signature_flags_group_their_slots():
    args = build_parser().parse_args([
        "export", "ckpt", "--out", "b", "--name", "n",
        "--input", "a=x", "--output", "b=y",
        "--signature", "second", "--method", "regress", "--input", "inputs=s",
        "--output", "outputs=z:1", "--bind", "keep_prob=0.5", "--bind", "mode=serve",
    ])
    draft = draft_from_args(args)
    first, second = draft.signatures
    assert (first.key, first.method) == ("serving_default", "predict")
    assert [(s.key, s.tensor) for s in first.inputs + first.outputs] == [("a", "x"), ("b", "y")]
    assert (second.key, second.method) == ("second", "regress")
    assert [(s.key, s.tensor) for s in second.outputs] == [("outputs", "z:1")]
    assert draft.bound == {"keep_prob": 0.5, "mode": "serve"}
    assert draft.options.verify and draft.options.strip_training  # serving-only by default


def test_serving_only_is_the_default_and_keep_training_state_keeps_it(capsys):
    def strip(*flags) -> bool:
        args = build_parser().parse_args(["export", "ckpt", "--out", "b", "--name", "n",
                                          "--output", "y=y", *flags])
        return draft_from_args(args).options.strip_training

    assert strip() is True and strip("--strip-training") is True
    assert strip("--keep-training-state") is False
    with pytest.raises(SystemExit):
        strip("--keep-training-state", "--strip-training")
    assert "not allowed with argument" in capsys.readouterr().err


def test_export_prints_path_verification_and_snippets(skip_thoughts, tmp_path, capsys):
    code, out, err = _run(capsys, *_skip_args(skip_thoughts, tmp_path, "--strip-training",
                                               "--save-preset", tmp_path / "enc.json"))
    assert code == 0, err
    assert f"Published {tmp_path / 'enc' / '1'} (version 1)" in out
    assert "Verification: verified 1 signature(s) against the checkpoint" in out
    assert "signature_def['serving_default']:" in out and "model_config_list {" in out
    assert "curl -X POST http://localhost:8501/v1/models/enc:predict" in out
    assert "[ 40%] Writing variables" in err
    preset = json.loads((tmp_path / "enc.json").read_text())
    assert preset["export"]["strip_training"] is True
    assert preset["signatures"][0]["inputs"][0] == {
        "key": "ids", "tensor": "encode_ids:0", "dtype": "int64", "shape": "[?, ?]"}

    # The preset alone reproduces the export, on another step of the same model.
    code, out, err = _run(capsys, "export", skip_thoughts.prefixes[0], "--preset",
                          tmp_path / "enc.json", "--no-verify")
    assert code == 0, err
    assert "(version 2)" in out and "Verification: skipped" in out


BAD_INPUTS = [
    (["--input", "ids=encode_idz"], "input 'ids': no tensor encode_idz:0 in this graph"),
    (["--input", "ids=encode_mask"], "two inputs share this key"),
    (["--input", "bad-key=encode_ids"], "input 'bad-key': invalid key"),
    (["--input", "again=encode_ids:0"], "encode_ids:0 is already fed by input 'ids'"),
    (["--input", "w=word_embedding"], "input 'w': word_embedding:0 is a resource tensor"),
    (["--output", "done=init"], "output 'done': init is an op with no outputs"),
    (["--input", "oops"], "input 'oops': no tensor oops:0 in this graph"),
    (["--output", "probs="], "--output 'probs=': expected [KEY=]TENSOR"),
    (["--bind", "keep_prob"], "--bind 'keep_prob': expected TENSOR=VALUE"),
    (["--signature", "x", "--output", "y=decoder/logits"],
     "signature 'x': the outputs need placeholder(s) no input feeds: decode_post_ids:0"),
    (["--version", "0"], "version 0: versions are positive integers"),
]


@pytest.mark.parametrize(("extra", "expected"), BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_nothing_published(skip_thoughts, tmp_path, capsys,
                                                            extra, expected):
    code, out, err = _run(capsys, *_skip_args(skip_thoughts, tmp_path, *extra))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("signet: ") and expected in err, err
    assert out == "" and list(tmp_path.iterdir()) == []


def test_every_error_is_listed_at_once(skip_thoughts, tmp_path, capsys):
    code, _, err = _run(capsys, "export", skip_thoughts.latest, "--out", tmp_path, "--name",
                        "m", "--input", "a=nope", "--input", "a=encode_mask",
                        "--output", "b=init", "--bind", "missing=1")
    assert code == 2
    for part in ("binding missing", "no tensor nope:0", "two inputs share this key",
                 "init is an op with no outputs"):
        assert part in err


def test_missing_options_and_existing_versions(skip_thoughts, tmp_path, capsys):
    code, _, err = _run(capsys, "export", skip_thoughts.latest, "--input", "a=encode_ids")
    assert code == 2 and "give --out BASE and --name NAME" in err
    (tmp_path / "enc" / "3").mkdir(parents=True)
    code, _, err = _run(capsys, *_skip_args(skip_thoughts, tmp_path, "--version", "3"))
    assert code == 2 and "enc/3 already exists; pick another version (the next free one " \
        "is 4)" in err
    assert sorted(p.name for p in (tmp_path / "enc").iterdir()) == ["3"]


def test_without_signature_flags_the_proposal_is_exported(skip_thoughts, tmp_path, capsys):
    code, out, err = _run(capsys, "export", skip_thoughts.latest, "--out", tmp_path,
                          "--name", "m", "--no-verify", "--no-warmup")
    assert code == 0, err
    assert "exporting the proposed signature" in out
    assert "thought_vectors = encoder_out/thought_vectors:0" in out
    assert "inputs['encode_ids']" in out and "outputs['thought_vectors']" in out


def test_without_signature_flags_a_graph_with_nothing_to_serve_is_refused(tmp_path, capsys):
    import tensorflow as tf

    from tests.checkpoints import save_initialized

    graph = tf.Graph()
    with graph.as_default():
        v = tf.compat.v1.get_variable("v", [2])
        tf.identity(v * 2.0, name="double")
    prefix = save_initialized(graph, tmp_path / "ckpt" / "model.ckpt")
    code, _, err = _run(capsys, "export", prefix, "--out", tmp_path / "out", "--name", "m")
    assert code == 2 and "nothing to export" in err and "model.ckpt-1.meta" in err
    assert not (tmp_path / "out" / "m").exists()


def test_preset_with_missing_tensors_exports_nothing(skip_thoughts, cnn, tmp_path, capsys):
    preset = tmp_path / "p.json"
    code, _, err = _run(capsys, *_skip_args(skip_thoughts, tmp_path / "a", "--no-verify",
                                            "--save-preset", preset))
    assert code == 0, err
    code, out, err = _run(capsys, "export", cnn.latest, "--preset", preset, "--out",
                          tmp_path / "b")
    assert code == 2 and out == ""
    assert "input 'ids': no tensor encode_ids:0" in err
    assert "output 'vec': no tensor encoder_out/thought_vectors:0" in err
    assert not (tmp_path / "b").exists()
    (tmp_path / "future.json").write_text('{"format": "signet-preset", "version": 3}')
    code, _, err = _run(capsys, "export", cnn.latest, "--preset", tmp_path / "future.json")
    assert code == 2 and "newer than this Signet understands" in err


@pytest.mark.parametrize("stage", ["copy assets", "publish"])
def test_killed_export_leaves_no_version_and_next_export_cleans_up(gpu_pinned, tmp_path,
                                                                   stage, capsys):
    """The export stops itself at ``stage`` (test hook), is SIGKILLed, then exported again."""
    argv = cli_argv(stage, "export", str(gpu_pinned.latest), "--out", str(tmp_path), "--name",
                    "g", "--input", "x=x", "--output", "y=y", "--no-verify")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), proc.stderr.read().decode()
        staging = list((tmp_path / "g").glob(publish.STAGING_PREFIX + "*"))
        assert len(staging) == 1 and (staging[0] / publish.SAVED / "variables").is_dir()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    names = [p.name for p in (tmp_path / "g").iterdir()]
    assert not any(n.isdigit() for n in names)

    code, _, err = _run(capsys, "export", gpu_pinned.latest, "--out", tmp_path, "--name",
                          "g", "--input", "x=x", "--output", "y=y", "--no-verify")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["1"]


def _pipeline_model(directory: Path) -> Path:
    """A model read straight from a tf.data iterator whose map function is a library
    function: the served graph has no use for it once the input is a placeholder."""
    import tensorflow as tf

    from tests.checkpoints import save_initialized

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        pipeline = (tf.data.Dataset.range(64)
                    .map(lambda i: tf.fill([3], tf.cast(i, tf.float32) / 64.0))
                    .batch(4).repeat())
        features = tf1.data.make_one_shot_iterator(pipeline).get_next()
        logits = tf.matmul(features, tf1.get_variable("dense/kernel", [3, 2]), name="logits")
        tf.nn.softmax(logits, name="probabilities")
        step = tf1.train.get_or_create_global_step()
        train = tf1.train.AdamOptimizer(0.1).minimize(tf.reduce_mean(tf.square(logits)),
                                                      global_step=step)
    return Path(save_initialized(graph, directory / "model.ckpt", (train, {})))


def test_bare_tensor_names_are_keyed_as_the_window_keys_a_dropped_tensor(skip_thoughts):
    from app.core.loader import load_checkpoint
    from app.core.signature.draft import key_unkeyed_slots

    args = build_parser().parse_args([
        "export", str(skip_thoughts.latest), "--out", "base", "--name", "enc",
        "--input", "encode_ids", "--input", "mask=encode_mask",
        "--output", "encoder_out/thought_vectors", "--output", "encoder/thought_vectors:0",
        "--output", "vec=encoder_out/thought_vectors"])
    draft = draft_from_args(args)
    key_unkeyed_slots(draft, load_checkpoint(skip_thoughts.latest))
    (sig,) = draft.signatures
    assert [(s.key, s.tensor) for s in sig.inputs] == [("encode_ids", "encode_ids:0"),
                                                       ("mask", "encode_mask")]
    assert [s.key for s in sig.outputs] == ["thought_vectors", "encoder_thought_vectors", "vec"]


def test_a_stripped_export_keys_bare_names_and_carries_no_pipeline_functions(tmp_path, capsys):
    prefix = _pipeline_model(tmp_path / "ckpt")
    assert _run(capsys, "inspect", prefix)[1].count(" in 2 functions") == 1  # the map function…
    code, out, err = _run(capsys, "export", prefix, "--out", tmp_path / "out", "--name", "m",
                          "--input", "IteratorGetNext", "--output", "probabilities")
    assert code == 0, err
    assert "inputs['features'] tensor_info" in out  # the proposal's key for the pipeline tensor
    assert "outputs['probabilities'] tensor_info" in out
    code, out, err = _run(capsys, "inspect", tmp_path / "out" / "m" / "1")
    (ops,) = [line for line in out.splitlines() if line.startswith("Ops ")]
    assert code == 0 and "function" not in ops, ops  # …left out with the pipeline
