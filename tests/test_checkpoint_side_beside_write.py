"""Verification's checkpoint side runs while the variables are written (issue 16, goal 2).

The write's saver and main op are in the graph before the write (`recipe.write_ops`;
the engine adds them while the restore runs) and the checkpoint side starts beside it,
so the graph that side runs never changes under it; the side's
sample words come from the asset files before the builder copies them, and must be the
words the copied assets give. Checked on a TF1-behaviour graph (ref variables, a
vocabulary table; built in a child process) and on the TF2-behaviour fixture.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.core.disk.beside import started
from app.core.errors import ExportError
from app.core.export import engine, export_model, recipe
from app.core.export.verify import SampleSet, vocabulary, vocabulary_of
from app.core.graph.protos import to_tensorflow_meta_graph
from app.core.loader import load_checkpoint
from app.core.serving import serving_model
from app.core.signature.draft import Draft, Signature, Slot
from app.core.tf_runtime import tensorflow
from tests.isolated_build import build

WORDS = ["<unk>", "zebra", "apple", "mango", "kiwi"]


def tf1_vocab_model(directory: Path) -> dict[str, Any]:
    """Ref variables and a vocabulary table, as TF 1.x wrote them (run in a child)."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    vocab = directory / "words.tsv"
    vocab.write_text("".join(f"{w}\t{i}\n" for i, w in enumerate(WORDS)), encoding="utf-8")
    with tf.Graph().as_default() as graph:
        tokens = tf1.placeholder(tf.string, [None], name="tokens")
        table = tf1.lookup.StaticHashTable(tf1.lookup.TextFileInitializer(
            str(vocab), tf.string, 0, tf.int64, tf1.lookup.TextFileIndex.LINE_NUMBER,
            delimiter="\t"), default_value=0)
        emb = tf1.get_variable("emb", [len(WORDS), 3], use_resource=False)
        scale = tf1.get_variable("scale", [3], use_resource=False,
                                 initializer=tf1.random_normal_initializer())
        tf.identity(tf.nn.embedding_lookup(emb, table.lookup(tokens)) * scale, name="out")
        assert emb.op.type == "VariableV2"  # a ref variable
        with tf1.Session(graph=graph) as session:
            session.run([tf1.global_variables_initializer(), tf1.tables_initializer()])
            prefix = tf1.train.Saver().save(session, str(directory / "model.ckpt"),
                                            global_step=1)
    return {"prefix": prefix}


@pytest.fixture(scope="module")
def tf1_vocab(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tf1_vocab")
    return Path(build("tests.test_checkpoint_side_beside_write:tf1_vocab_model",
                      directory)["prefix"])


def _draft(base: Path, inputs: list[str], outputs: list[str], **options: Any) -> Draft:
    draft = Draft([Signature(inputs=[Slot(f"in{i}", t) for i, t in enumerate(inputs)],
                             outputs=[Slot(f"out{i}", t) for i, t in enumerate(outputs)])])
    draft.options.base, draft.options.name = str(base), "m"
    for key, value in options.items():
        setattr(draft.options, key, value)
    return draft


def test_the_graph_never_changes_while_the_checkpoint_side_runs_beside_the_write(
        tf1_vocab, tmp_path):
    loaded = load_checkpoint(tf1_vocab, index_names=False)
    meta = to_tensorflow_meta_graph(loaded.graph.meta_graph)
    graph, saver = recipe.import_graph(meta, {})
    session = recipe.restore(graph, saver, tf1_vocab)
    ops = recipe.write_ops(graph, saver)
    draft = _draft(tmp_path, ["tokens:0"], ["out:0"])
    sig_defs = recipe.signature_defs(draft, graph)
    words = vocabulary_of(recipe.asset_sources(graph))
    ops_seen: list[int] = []
    threads: list[str] = []

    def side() -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        ops_seen.append(len(graph.get_operations()))
        outputs = engine._checkpoint_outputs(session, sig_defs, words, SampleSet())
        ops_seen.append(len(graph.get_operations()))
        return outputs

    try:
        saved = tmp_path / "saved"
        builder, expected, _ = recipe.write_variables(session, ops, saved, sig_defs, side)
        builder.save()
        after_write = len(graph.get_operations())
    finally:
        session.close()
    # Every op the write adds exists before the side starts; none is added after.
    assert ops_seen == [after_write, after_write]
    assert threads == [threading.main_thread().name]
    assert words == WORDS  # the first column of the source file
    assert words == vocabulary(saved / "assets")  # the same words the copy gives
    samples = expected["serving_default"].samples["in0"]
    assert set(samples.tolist()) <= {w.encode() for w in WORDS}
    # What the side computed is what the written SavedModel computes.
    tf = tensorflow()
    with tf.Graph().as_default(), tf.compat.v1.Session() as fresh:
        tf.compat.v1.saved_model.loader.load(fresh, ["serve"], str(saved))
        got = fresh.run("out:0", {"tokens:0": samples})
    np.testing.assert_allclose(got, expected["serving_default"].outputs["out0"], rtol=1e-6)


def test_a_failed_write_closes_the_staged_session_made_beside_it(tf1_vocab, tmp_path):
    loaded = load_checkpoint(tf1_vocab, index_names=False)
    graph, saver = recipe.import_graph(to_tensorflow_meta_graph(loaded.graph.meta_graph), {})
    session = recipe.restore(graph, saver, tf1_vocab)
    ops = recipe.write_ops(graph, saver)
    sig_defs = recipe.signature_defs(_draft(tmp_path, ["tokens:0"], ["out:0"]), graph)
    made: list[Any] = []

    def stage(graph_def: Any, graph_def_bytes: bytes) -> Any:
        made.append(serving_model.stage(graph_def, graph_def_bytes))
        return made[-1]

    def disk_full(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    ops.saver.save = disk_full  # the variables' write fails after the session was staged
    try:
        with pytest.raises(OSError, match="No space left"):
            recipe.write_variables(session, ops, tmp_path / "saved", sig_defs,
                                   lambda: engine._checkpoint_outputs(
                                       session, sig_defs, WORDS, SampleSet()), stage)
    finally:
        session.close()
    assert len(made) == 1
    with pytest.raises(RuntimeError, match="closed Session"):
        made[0].run(["out:0"], {"tokens:0": np.array([b"kiwi"], dtype=object)})


@pytest.mark.parametrize("strip", [False, True])
def test_a_verified_export_computes_the_checkpoint_side_once_beside_the_write_unless_stripped(
        tf1_vocab, tmp_path, monkeypatch, strip):
    late: list[bool] = []
    original = engine._expected

    def counted(*args: Any) -> Any:
        late.append(True)
        return original(*args)

    monkeypatch.setattr(engine, "_expected", counted)
    result = export_model(_draft(tmp_path, ["tokens:0"], ["out:0"], strip_training=strip),
                          tf1_vocab)
    assert result.verification is not None and result.verification.checks
    assert late == ([True] if strip else [])
    assert (result.path / "assets" / "words.tsv").is_file()


def test_the_tf2_fixture_is_verified_with_the_words_read_before_the_copy(vocab_table, tmp_path):
    result = export_model(_draft(tmp_path, vocab_table.inputs, vocab_table.outputs),
                          vocab_table.latest)
    words = set(result.verification.samples["serving_default"]["in0"].tolist())
    assert words <= {w.encode() for w in vocab_table.extra["words"]}


def test_a_checkpoint_whose_table_cannot_initialize_fails_in_one_line(tf1_vocab, tmp_path):
    source = tf1_vocab.parent / "words.tsv"
    text = source.read_text(encoding="utf-8")
    source.write_text(text + text, encoding="utf-8")  # every word twice: init fails
    try:
        with pytest.raises(ExportError) as caught:
            export_model(_draft(tmp_path, ["tokens:0"], ["out:0"]), tf1_vocab)
    finally:
        source.write_text(text, encoding="utf-8")
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    assert "lookup tables fail to initialize" in message, message
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_started_work_gives_its_value_or_its_error():
    assert started(lambda: 41 + 1).result() == 42

    def fails() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        started(fails).result()
