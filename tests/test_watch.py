"""`signet watch`: a TF1 job trains in the background; the watch publishes what the
policy wants, keeps N, survives kill -9, refuses breaking changes, and writes a
models.config TF Serving's own parser reads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import build_parser, main
from app.core.errors import SignetError
from app.core.signature.draft import Draft, Signature, Slot
from app.core.watch import Policy, Watch
from app.core.watch.candidates import complete_checkpoints
from app.core.watch.compat import breaking_changes
from app.core.watch.serving_config import read_config, update_config
from app.core.watch.state import Published, changing, read_state

ROOT = Path(__file__).resolve().parents[1]
LOSSES = [0.5, 0.3, 0.4, 0.2, 0.35]  # steps 10..50: best publishes 10, 20, 40
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
       "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _training(model_dir: Path, *extra) -> subprocess.Popen:
    """The TF1 job (`tests.watch_training`) in the background."""
    argv = [sys.executable, "-m", "tests.watch_training", str(model_dir),
            "--losses", *map(str, LOSSES), *map(str, extra)]
    return subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _finished(job: subprocess.Popen) -> None:
    _out, err = job.communicate(timeout=300)
    assert job.returncode == 0, err[-3000:]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A whole run (steps 10..50 with their eval losses), written once."""
    run = tmp_path_factory.mktemp("watch") / "run"
    _finished(_training(run))
    return run


def _draft(input_key: str = "x") -> Draft:
    return Draft([Signature("serving_default", "predict", [Slot(input_key, "x:0")],
                            [Slot("y", "pred:0")])])


def _versions(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def _config_entry(base: Path, name: str):
    return next(c for c in read_config(base).model_config_list.config if c.name == name)


def test_latest_and_best_follow_a_running_job(tmp_path):
    run, base, lines = tmp_path / "run", tmp_path / "base", []
    job = _training(run, "--pause", "0.3")
    latest = Watch(run, base, "latest", _draft(), Policy("latest", keep=3), log=lines.append)
    best = Watch(run, base, "best", _draft(), Policy("best"), log=lines.append)
    while True:  # poll while the job writes; one last poll once it is done
        done = job.poll() is not None
        latest.poll()
        best.poll()
        if done:
            break
        time.sleep(0.2)
    _finished(job)

    assert _versions(base / "best") == [10, 20, 40]
    assert "step 30: skipped (loss 0.4 does not beat the best so far, 0.3)" in lines
    assert _versions(base / "latest") == [30, 40, 50]  # keep 3
    assert "deleted version 10 (step 10): beyond keep 3" in lines
    for version in (30, 40, 50):  # each one a whole SavedModel, with its warmup
        assert (base / "latest" / str(version) / "saved_model.pb").is_file()
        assert (base / "latest" / str(version) / "assets.extra").is_dir()
    state = read_state(base / "best")
    assert [(p.version, round(p.metric, 3)) for p in state.published] == \
        [(10, 0.5), (20, 0.3), (40, 0.2)]
    assert round(state.best, 3) == 0.2 and state.pending is None

    # models.config, through TF Serving's own ModelServerConfig: both models, their kept
    # versions, stable = best metric, canary = newest.
    entry = _config_entry(base, "latest")
    assert list(entry.model_version_policy.specific.versions) == [30, 40, 50]
    assert dict(entry.version_labels) == {"stable": 40, "canary": 50}
    assert entry.base_path == str(base / "latest") and entry.model_platform == "tensorflow"
    assert dict(_config_entry(base, "best").version_labels) == {"stable": 40, "canary": 40}


def test_incomplete_checkpoints_are_not_taken(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / "model.ckpt-50.data-00000-of-00001").unlink()  # a shard not written yet
    shard = run / "model.ckpt-40.data-00000-of-00001"
    shard.write_bytes(shard.read_bytes()[:8])  # a shard still being written
    assert [c.step for c in complete_checkpoints(run)] == [10, 20, 30]
    # The state file names step 20 as the newest: 30 (on disk) is not saved yet.
    (run / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-20"\n')
    assert [c.step for c in complete_checkpoints(run)] == [10, 20]

    lines: list[str] = []
    Watch(run, tmp_path / "base", "m", _draft(), Policy("latest"), log=lines.append).run(
        once=True)
    assert _versions(tmp_path / "base" / "m") == [10, 20]


def test_a_watch_dead_before_its_version_is_there_retries_the_same_version(
        finished_run, tmp_path, monkeypatch):
    """Killed after noting the export as pending but before the version exists: the next
    watch publishes that step as the same version, not as a new run above it."""
    from app.core import export

    base, lines = tmp_path / "base", []

    def killed(*_args, **_kwargs):
        raise SystemExit(137)  # not an Exception: the watch cannot log it, as with kill -9

    real = export.export_model
    monkeypatch.setattr(export, "export_model", killed)
    with pytest.raises(SystemExit):
        Watch(finished_run, base, "m", _draft(), Policy("latest"), log=lines.append).run(
            once=True)
    assert read_state(base / "m").pending.version == 10 and _versions(base / "m") == []

    monkeypatch.setattr(export, "export_model", real)
    Watch(finished_run, base, "m", _draft(), Policy("latest", keep=2),
          log=lines.append).run(once=True)
    assert _versions(base / "m") == [40, 50]
    assert not [line for line in lines if "new run" in line]


def test_kill_9_and_restart_never_publish_a_worse_model(tmp_path):
    run, base, gate = tmp_path / "run", tmp_path / "base", tmp_path / "gate"
    job = _training(run, "--gate", gate, "--gate-after", "4")  # 10..40, then waits
    argv = [sys.executable, "-m", "app", "watch", str(run), "--out", str(base), "--name", "m",
            "--policy", "best", "--input", "x=x", "--output", "y=pred", "--interval", "0.2"]
    log = tmp_path / "first.log"
    with log.open("w") as out:
        watch = subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=out,
                                 stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while "checkpoint: step 40" not in log.read_text():
            assert watch.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        watch.send_signal(signal.SIGKILL)  # about to export step 40 (0.2), or exporting it
        watch.wait(timeout=30)
    first = log.read_text()
    assert "step 20: published version 20" in first and "step 30: skipped" in first
    gate.touch()  # the job goes on: 50 (0.35, worse than 0.2)
    _finished(job)

    again = subprocess.run([*argv, "--once"], cwd=ROOT, env=ENV, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "step 50: skipped (loss 0.35 does not beat the best so far, 0.2)" in again.stdout
    for step in (10, 20, 30):  # decided before the kill: never again
        assert f"step {step}:" not in again.stdout
    assert _versions(base / "m") == [10, 20, 40]
    state = read_state(base / "m")
    metrics = [p.metric for p in state.published]
    assert metrics == sorted(metrics, reverse=True)  # each one better than the one before
    assert state.pending is None and round(state.best, 3) == 0.2
    assert not [p for p in (base / "m").iterdir() if p.name.startswith(".signet-export-")]


def test_a_version_pending_at_a_kill_is_adopted_or_forgotten(finished_run, tmp_path):
    base, lines = tmp_path / "base", []
    Watch(finished_run, base, "m", _draft(), Policy("best"), log=lines.append).run(once=True)
    folder = base / "m"
    shutil.copytree(folder / "40", folder / "45")  # published, but the watch died before noting it
    with changing(folder) as state:
        state.pending = Published(45, 45, 0.1, 0.0, "model.ckpt-45", key="45@0")
    Watch(finished_run, base, "m", _draft(), Policy("best"), log=lines.append)
    state = read_state(folder)
    assert [p.version for p in state.published] == [10, 20, 40, 45] and state.best == 0.1
    assert state.seen["45@0"] == "published 45"
    assert list(_config_entry(base, "m").model_version_policy.specific.versions) == \
        [10, 20, 40, 45]

    with changing(folder) as state:  # died mid-export: no folder, the checkpoint is retried
        state.pending = Published(60, 60, 0.05, 0.0, "model.ckpt-60", key="60@0")
        state.seen["60@0"] = "publishing"
    Watch(finished_run, base, "m", _draft(), Policy("best"), log=lines.append)
    state = read_state(folder)
    assert state.pending is None and "60@0" not in state.seen and 60 not in state.by_version()


def test_breaking_signature_change_is_refused_unless_allowed(finished_run, tmp_path, capsys):
    base = tmp_path / "base"
    Watch(finished_run, base, "m", _draft("x"), Policy("latest", keep=10),
          log=print).run(once=True)
    assert _versions(base / "m") == [10, 20, 30, 40, 50]
    capsys.readouterr()

    second = tmp_path / "second"  # a new run, its input served under another key
    _finished(_training(second))
    code = main(["watch", str(second), "--out", str(base), "--name", "m", "--input",
                 "features=x", "--output", "y=pred", "--once", "--keep", "10"])
    out = capsys.readouterr().out
    assert code == 0
    assert "step 10: below version 50 already there, so a new run: its versions continue " \
           "above, as step + 50" in out
    assert "step 10: refused: breaking signature change against version 50: input 'x' of " \
           "'serving_default' renamed or removed; input 'features' of 'serving_default' " \
           "added (clients do not send it)" in out
    assert _versions(base / "m") == [10, 20, 30, 40, 50]

    (base / "m" / ".signet-watch.json").write_text(  # forget the refusals
        json.dumps({**json.loads((base / "m" / ".signet-watch.json").read_text()),
                    "seen": {}}))
    code = main(["watch", str(second), "--out", str(base), "--name", "m", "--input",
                 "features=x", "--output", "y=pred", "--once", "--keep", "10",
                 "--allow-breaking"])
    assert code == 0
    # Published now, above 60..100: numbers the watch once decided on are never reused.
    assert _versions(base / "m") == [10, 20, 30, 40, 50, 110, 120, 130, 140, 150]


def test_breaking_changes_name_each_change():
    def facts(dtype="float32", rank=2, outputs=("y",)):
        return {"serving_default": {
            "method": "tensorflow/serving/predict",
            "inputs": {"x": {"dtype": dtype, "rank": rank, "shape": "[?, 3]"}},
            "outputs": {k: {"dtype": "float32", "rank": 2, "shape": "[?, 1]"} for k in outputs}}}

    assert breaking_changes(facts(), facts(outputs=("y", "z"))) == []  # an output added
    assert breaking_changes(facts(), facts(rank=None)) == []  # unknown rank: nothing to say
    assert breaking_changes(facts(), facts(dtype="int64")) == \
        ["input 'x' of 'serving_default': dtype float32 → int64"]
    assert breaking_changes(facts(), facts(rank=3)) == \
        ["input 'x' of 'serving_default': rank 2 → 3 ([?, 3] → [?, 3])"]
    assert breaking_changes(facts(outputs=("y", "z")), facts()) == \
        ["output 'z' of 'serving_default' removed"]
    assert breaking_changes(facts(), {}) == ["signature 'serving_default' removed"]


def test_models_config_keeps_the_other_models(tmp_path):
    (tmp_path / "models.config").write_text(
        "model_config_list { config { name: 'other' base_path: '/models/other' "
        "model_platform: 'tensorflow' } }\n")
    update_config(tmp_path, "m", [3, 1], {"stable": 1, "canary": 3})
    update_config(tmp_path, "m", [3, 4], {"stable": 4, "canary": 4})
    entries = read_config(tmp_path).model_config_list.config
    assert [c.name for c in entries] == ["other", "m"]
    assert entries[0].base_path == "/models/other"
    assert list(entries[1].model_version_policy.specific.versions) == [3, 4]
    assert dict(entries[1].version_labels) == {"stable": 4, "canary": 4}


def test_watch_flags_keep_n_and_keep_site_apart():
    args = build_parser().parse_args([
        "watch", "run", "--out", "b", "--name", "m", "--keep", "2", "--keep-site", "dropout:d",
        "--policy", "best", "--metric", "accuracy", "--mode", "max", "--input", "x=x"])
    assert (args.keep, args.keep_site, args.policy, args.metric, args.mode) == \
        (2, ["dropout:d"], "best", "accuracy", "max")
    assert args.signatures[0]["inputs"] == ["x=x"]


def test_a_checkpoint_waits_for_its_metric_and_a_wrong_name_is_named(finished_run, tmp_path):
    lines: list[str] = []
    Watch(finished_run, tmp_path / "base", "m", _draft(), Policy("best", metric="accuracy"),
          log=lines.append).run(once=True)
    assert "step 10: waiting for its eval accuracy (the eval files have no accuracy; they " \
           "have loss)" in lines
    assert not [line for line in lines if "published" in line]
    assert _versions(tmp_path / "base" / "m") == []


def test_a_best_so_far_is_never_compared_with_another_metric(tmp_path):
    folder = tmp_path / "base" / "m"
    with changing(folder) as state:
        state.policy = {"kind": "best", "metric": "loss", "mode": "min", "keep": 5}
        state.best = 0.3
    with pytest.raises(SignetError, match=r"was watched for loss \(min\); its best so far "
                                          r"means nothing for accuracy \(max\)"):
        Watch(tmp_path / "run", tmp_path / "base", "m", _draft(),
              Policy("best", metric="accuracy", mode="max"))
    assert read_state(folder).policy["metric"] == "loss"  # nothing was changed


def test_listing_versions_never_imports_tensorflow(tmp_path):
    """The Versions window lists versions on its UI thread: state, models.config and the
    rows must read without TensorFlow (only the eval series, in a worker, loads it)."""
    folder = tmp_path / "m"
    (folder / "7").mkdir(parents=True)
    with changing(folder) as state:
        state.published.append(Published(7, 7, 0.5, 0.0, "model.ckpt-7"))
    update_config(tmp_path, "m", [7], {"stable": 7, "canary": 7})
    code = ("import sys\nfrom pathlib import Path\nimport app.ui.versions\n"
            "from app.core.watch.versions import model_versions\n"
            f"rows = model_versions(Path({str(tmp_path)!r}), 'm')\n"
            "print([(r.version, r.labels) for r in rows], 'tensorflow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[(7, ('canary', 'stable'))] False"


def test_eval_values_from_tf2_tensor_summaries_read_like_tf1_simple_values(tmp_path):
    import tensorflow as tf

    from app.core.watch.metrics import EvalReader

    writer = tf.summary.create_file_writer(str(tmp_path / "eval"))
    with writer.as_default():
        tf.summary.scalar("loss", 0.25, step=100)
        tf.summary.scalar("auc", 0.9, step=100)
        tf.summary.text("note", "not a number", step=100)
    writer.flush()
    reader = EvalReader(tmp_path, "loss")
    assert [(p.step, p.value) for p in reader.poll()] == [(100, 0.25)]
    assert reader.tags == {"loss", "auc"}
    with writer.as_default():  # appended later: the next poll reads only that
        tf.summary.scalar("loss", 0.125, step=200)
    writer.flush()
    assert [(p.step, p.value) for p in reader.poll()] == [(200, 0.125)]
    assert reader.series() == [(100, 0.25), (200, 0.125)]


def test_sigint_stops_after_the_current_export(finished_run, tmp_path):
    base = tmp_path / "base"
    argv = [sys.executable, "-m", "app", "watch", str(finished_run), "--out", str(base),
            "--name", "m", "--input", "x=x", "--output", "y=pred", "--interval", "0.2"]
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        watch = subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while "checkpoint: step 20" not in log.read_text():  # its export starts now
            assert watch.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=120) == 0
    text = log.read_text()
    assert "stopping after the current export" in text
    assert "step 20: published version 20" in text and "checkpoint: step 30" not in text
    assert _versions(base / "m") == [10, 20]
    assert read_state(base / "m").pending is None
    assert not [p for p in (base / "m").iterdir() if p.name.startswith(".signet-export-")]
