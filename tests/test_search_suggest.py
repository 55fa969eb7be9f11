"""Search and serving suggestions on real fixture graphs."""

from __future__ import annotations

import re

from app.core.graph.search import SearchIndex
from app.core.loader import load_checkpoint
from tests.isolated_build import build


def test_substring_is_case_insensitive_and_covers_tensor_names(loaded):
    ops = loaded.graph.ops
    result = loaded.search_index.search("THOUGHT_vectors")
    assert result.ops == [n for n in ops if "thought_vectors" in n.lower()]
    assert set(result.ops) == {"encoder/thought_vectors", "encoder_out/thought_vectors"}
    assert loaded.search_index.search("encode_ids:0").ops == ["encode_ids"]


def test_type_filter_and_combined_terms(loaded):
    ops = loaded.graph.ops
    placeholders = loaded.search_index.search("type:placeholder").ops
    assert placeholders == [n for n, op in ops.items() if op.type == "Placeholder"]
    assert len(placeholders) == 4
    both = loaded.search_index.search("type:Placeholder decode").ops
    assert both == ["decode_post_ids", "decode_post_mask"]


def test_regex_mode(loaded):
    ops = loaded.graph.ops
    result = loaded.search_index.search(r"^encoder/gru/gates", regex=True)
    assert result.ops == [n for n in ops if re.search(r"^encoder/gru/gates", n, re.I)]
    assert result.ops
    bad = loaded.search_index.search("(", regex=True)
    assert bad.ops == [] and "invalid regular expression" in bad.error
    assert loaded.search_index.search("  ").ops == []


def test_typing_on_finds_what_a_fresh_search_finds(loaded):
    """Each query below holding the one before rescans only that one's hits."""
    index = loaded.search_index
    typed = ["g", "gr", "gru", "gru/g", "GRU/Gates", "gru/gates/kernel", "gates", "x",
             "gru/c", "encoder gru", "type:MatMul gru", "gru"]
    for query in typed:
        fresh = SearchIndex(loaded.graph).search(query)
        result = index.search(query)
        assert result.ops == fresh.ops, query
        assert list(result.indices) == sorted(result.indices)


def _rank(items, name):
    return [s.tensor for s in items].index(name)


def test_skip_thoughts_suggestions(loaded, skip_thoughts):
    sugg = loaded.suggestions
    assert [s.tensor for s in sugg.inputs[:2]] == ["encode_ids:0", "encode_mask:0"]
    outputs = [s.tensor for s in sugg.outputs[:5]]
    for true_output in skip_thoughts.outputs:
        assert true_output in outputs
    assert not any(s.tensor.startswith(("gradients", "save", "Adam", "loss"))
                   for s in sugg.outputs)
    # The decoder is teacher-forced: offered last, saying why it is not proposed.
    decoder = [s for s in sugg.outputs if s.tensor.startswith("decoder")]
    assert [s.reason for s in decoder] == ["needs the target sequence (teacher forcing)"]
    assert not decoder[0].proposed


def test_cnn_suggestions(cnn):
    sugg = load_checkpoint(cnn.latest).suggestions
    assert sugg.inputs[0].tensor == "images:0"
    # keep_prob (a placeholder with a default) is a training switch: bound, never an input.
    assert "keep_prob:0" not in {s.tensor for s in sugg.inputs}
    assert load_checkpoint(cnn.latest).proposal.bind == {"keep_prob:0": 1.0}
    assert _rank(sugg.inputs, "labels:0") > _rank(sugg.inputs, "images:0")
    top5 = [s.tensor for s in sugg.outputs[:5]]
    assert top5[:2] == ["dense/logits:0", "probabilities:0"]


def test_vocab_and_gpu_suggestions(vocab_table, gpu_pinned):
    vocab = load_checkpoint(vocab_table.latest).suggestions
    assert [s.tensor for s in vocab.inputs] == ["tokens:0"]
    assert "embedded:0" in [s.tensor for s in vocab.outputs[:5]]
    gpu = load_checkpoint(gpu_pinned.latest).suggestions
    assert [s.tensor for s in gpu.outputs[:1]] == ["y:0"]


def test_regex_is_case_insensitive_and_keeps_escapes(loaded):
    upper = loaded.search_index.search(r"^ENCODE_\w+$", regex=True).ops
    assert upper == ["encode_ids", "encode_mask"]
    # \D is "not a digit": folding must not turn it into \d.
    assert "encode_ids" in loaded.search_index.search(r"encode_\D", regex=True).ops


def test_long_and_multi_output_names_are_found_as_short_ones():
    """Texts past the fixed-width array's limit are searched one by one, with the same
    answers, in a fresh search and when typing on narrows the last hits."""
    import tensorflow as tf

    from app.core.graph.opgraph import OpGraph
    from app.core.graph.search import _WIDTH_LIMIT

    tf1 = tf.compat.v1
    graph = tf.Graph()
    long_scope = "deep_" * (_WIDTH_LIMIT // 5)
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 6], name="features")
        with tf.name_scope(long_scope):
            tf.identity(x, name="needle")
        parts = tf.split(x, 3, axis=1, name="splitter")
        tf.identity(parts[2], name="needle_short")
        index = SearchIndex(OpGraph(tf1.train.export_meta_graph(graph=graph)))
    long_name = f"{long_scope}/needle"
    assert list(index._long.values()) == [f"{long_name}:0"]  # the one text past the limit
    assert index.search("NEEDLE").ops == [long_name, "needle_short"]
    assert index.search("needle:0").ops == [long_name]  # typing on from "needle"
    assert index.search("deep_deep").ops == [long_name]
    index.search("e")  # typing on from a word every op holds
    assert index.search("needle/").ops == []
    assert index.search("splitter:2").ops == ["splitter"]
    assert index.search("splitter:3").ops == []
    assert index.search(r"^splitter$", regex=True).ops == ["splitter"]
    assert index.search(r"needle(_short)?$", regex=True).ops == [long_name, "needle_short"]


def test_texts_are_each_name_lower_cased_with_its_tensor_names():
    """The index lower-cases all names joined at once: each op's text must be what
    lower-casing its own name gives (final sigma, dotted I), with one line per output
    tensor (none for an op without outputs, three for a three-way split). A NUL inside
    a name (which would split the joined names out of line) makes it go name by name."""
    import tensorflow as tf

    from app.core.graph.opgraph import OpGraph

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 6], name="Features")
        tf.split(x, 3, axis=1, name="Splitter")
        tf.no_op(name="Nothing")
        exported = tf1.train.export_meta_graph(graph=graph)
    for first in ([], ["NUL\0inside"]):
        meta = type(exported)()
        meta.CopyFrom(exported)
        # Names TensorFlow's graph API would refuse, as an edited or foreign GraphDef holds.
        for name in [*first, "ΑΣ", "ΣΑ", "İstanbul", "STRASSE/Straße"]:
            meta.graph_def.node.add(name=name, op="Placeholder")
        opgraph = OpGraph(meta)
        index = SearchIndex(opgraph)
        for i, op in enumerate(opgraph.ops.values()):
            own = op.name.lower()
            assert index._lines[i] == "\n".join(
                [own, *(f"{own}:{k}" for k in range(op.output_count))])
        assert index.search("ας").ops == ["ΑΣ"]  # final sigma, as "ΑΣ".lower() has it
        assert index.search("σα").ops == ["ΣΑ"]
        assert index.search("i̇stanbul:0").ops == ["İstanbul"]
        assert index.search("splitter:2").ops == ["Splitter"]
        assert index.search("nothing").ops == ["Nothing"]
        assert index.search("nothing:0").ops == []
        assert index.search("straße:0").ops == ["STRASSE/Straße"]
        assert index.search("inside:0").ops == [name for name in first]


def _words(names: list[str]) -> list[str]:
    """Every 1-3 character piece of the names' lower-cased texts that holds no ``/``,
    each whole component, tensor suffixes, upper case and words no op holds."""
    words = {"zzz_none", ":7", "Σ", "needle:0", "splitter:1"}
    for name in names:
        text = f"{name.lower()}:0"
        for part in text.split("/"):
            words.add(part)
            words.update(part[i:i + n] for n in (1, 2, 3) for i in range(len(part)))
        words.add(name.split("/")[-1].upper())
    return sorted(w for w in words if w.strip() == w and w and "\0" not in w)  # typeable


def test_the_name_pieces_find_what_the_scan_of_every_text_finds(loaded, tmp_path):
    """`index_pieces` only changes how a word is found: on the skip-thoughts graph; on
    TF1-behaviour graphs (a v1 while loop with ref variables and Adam, a queue
    pipeline) and a TF2 functional While; and on names past the width limit, with
    several outputs, at the top level, in other scripts, differing only in case and
    holding a NUL, every word finds what the full scan finds, fresh and typing on."""
    import tensorflow as tf

    from app.core.graph.opgraph import OpGraph
    from app.core.graph.search import _WIDTH_LIMIT

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 6], name="features")
        with tf.name_scope("deep_" * (_WIDTH_LIMIT // 5)):
            tf.identity(x, name="needle")
        tf.split(x, 3, axis=1, name="Splitter")
        tf.no_op(name="nothing")
        meta = tf1.train.export_meta_graph(graph=graph)
    for name in ["ΑΣ", "Outer/ΣΑ", "İstanbul", "STRASSE/Straße", "strasse/x", "NUL\0inside/y"]:
        meta.graph_def.node.add(name=name, op="Placeholder")
    built = [build("tests.graphs_tf1:scan_encoder", tmp_path / "scan")["prefix"],
             build("tests.graphs_tf1:queue_input", tmp_path / "queue")["prefix"],
             build("tests.suggest_corpus:tf2_dataset_functional_while", tmp_path / "while",
                   v1=False)["prefix"]]
    others = [load_checkpoint(prefix).graph for prefix in built]
    assert {"Enter", "RefEnter", "Exit"} & {op.type for op in others[0].ops.values()}
    assert any(op.type == "While" or op.type == "StatelessWhile"
               for op in others[2].ops.values())
    for opgraph in (loaded.graph, OpGraph(meta), *others):
        scanned = SearchIndex(opgraph)
        pieces = SearchIndex(opgraph)
        pieces.index_pieces()
        assert pieces._pieces is not None
        words = _words(list(opgraph.ops))
        assert len(words) > 100
        for word in words:
            expected = scanned.search(word).ops
            fresh = SearchIndex(opgraph)
            fresh.index_pieces()
            assert fresh.search(word).ops == expected, word
            assert pieces.search(word).ops == expected, word  # typing on from the last


def test_name_pieces_of_no_ops_hold_nothing():
    from app.core.graph.name_pieces import NamePieces

    assert NamePieces([]).holding(b"a").tolist() == []
    assert NamePieces([b"a/b:0", b"c:0"]).holding(b"b").tolist() == [True, False]
