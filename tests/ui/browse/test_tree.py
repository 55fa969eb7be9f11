"""The op tree model, its search filter and the tree panel (drag, copy, context menu, links)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, QSize, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QScrollBar,
    QStyledItemDelegate,
    QStyleFactory,
    QStyleOptionViewItem,
)

from app.core.graph.opgraph import ScopeNode, Tensor
from app.ui.browse.op_tree import OpTreePanel
from app.ui.browse.tree_delegate import OpTreeDelegate
from app.ui.browse.tree_model import FUNCTIONS_LABEL, NodeRole, OpTreeModel
from app.ui.common.mime import TENSOR_MIME, tensors_from_mime


@pytest.fixture
def panel(qtbot, loaded):
    widget = OpTreePanel()
    qtbot.addWidget(widget)
    widget.set_checkpoint(loaded)
    widget.show()
    return widget


def _walk(model, parent=None):
    parent = parent if parent is not None else QModelIndex()
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        yield index
        yield from _walk(model, index)


def test_model_passes_qtmodeltester(qtmodeltester, loaded):
    model = OpTreeModel()
    model.set_graph(loaded.graph)
    qtmodeltester.check(model)


def test_filtered_model_passes_qtmodeltester(qtmodeltester, loaded):
    model = OpTreeModel()
    model.set_graph(loaded.graph)
    qtmodeltester.check(model)  # the tester stays attached and checks each layout change
    for query in ("encoder", "encode", "type:Placeholder", "gates", "gate", "no such op"):
        model.set_matches(loaded.search_index.search(query).indices)
    model.set_matches(loaded.search_index.search("encoder").indices)
    qtmodeltester.check(model)
    model.set_matches(None)


def test_a_search_that_keeps_every_known_row_only_repaints_highlights(qtbot, loaded):
    model = OpTreeModel()
    model.set_graph(loaded.graph)
    position = {name: i for i, name in enumerate(loaded.graph.ops)}
    kernel, read = "encoder/gru/gates/kernel", "encoder/gru/gates/kernel/Assign"
    both = np.array([position[kernel], position[read]])
    model.set_matches(both)
    row = model.index_of_name(kernel)  # its parent's rows are known; its own are not yet
    assert row.data(Qt.ItemDataRole.FontRole) is not None
    with qtbot.assertNotEmitted(model.layoutChanged), \
            qtbot.waitSignal(model.dataChanged, timeout=1000) as changed:
        model.set_matches(np.array([position[read]]))  # the kernel row stays: it holds Assign
    top_left, bottom_right = changed.args[:2]
    assert top_left.parent() == row.parent()
    assert top_left.row() <= row.row() <= bottom_right.row()
    assert model.index_of_name(kernel).data(Qt.ItemDataRole.FontRole) is None
    assert model.rowCount(row) == 1  # now its rows are known: just Assign
    with qtbot.waitSignal(model.layoutChanged, timeout=1000):
        model.set_matches(both)  # kernel's tensors come back under it
    assert model.rowCount(model.index_of_name(kernel)) > 1


def test_an_expand_arrow_the_view_asked_about_is_not_left_stale(qtbot):
    """hasChildren answers from the match counts without listing rows; a later search
    that gives or takes that row's children is still a layout change for the view."""
    import tensorflow as tf

    from app.core.graph.opgraph import OpGraph
    from app.core.graph.search import SearchIndex

    tf1 = tf.compat.v1
    with tf.Graph().as_default() as graph:
        x = tf1.placeholder(tf.float32, [None, 2], name="features")
        tf.no_op(name="init")  # an op without outputs...
        tf.identity(x, name="init/child")  # ...holding another op
        opgraph = OpGraph(tf1.train.export_meta_graph(graph=graph))
    search = SearchIndex(opgraph)
    model = OpTreeModel()
    model.set_graph(opgraph)
    model.set_matches(search.search("^init$", regex=True).indices)
    init = model.index_of_name("init")
    assert init.isValid() and not model.hasChildren(init)  # what the view's arrow shows
    with qtbot.waitSignal(model.layoutChanged, timeout=1000):
        model.set_matches(search.search("^init(/child)?$", regex=True).indices)
    init = model.index_of_name("init")
    assert model.hasChildren(init) and model.rowCount(init) == 1
    with qtbot.waitSignal(model.layoutChanged, timeout=1000):
        model.set_matches(search.search("^init$", regex=True).indices)
    assert not model.hasChildren(model.index_of_name("init"))


def test_a_search_keeps_shown_expansions_and_selection(panel, loaded):
    view, model = panel.view, panel.model
    kernel = model.index_of_name("encoder/gru/gates/kernel")
    view.expand(kernel.parent())
    view.setCurrentIndex(kernel)
    panel.search.setText("gates")
    panel.apply_search()
    kept = view.currentIndex()
    assert kept.data(NodeRole).op.name == "encoder/gru/gates/kernel"
    assert kept.row() == model.index_of_name("encoder/gru/gates/kernel").row()
    assert view.isExpanded(kept.parent())
    panel.search.setText("type:Placeholder")
    panel.apply_search()
    assert not view.currentIndex().isValid()  # the selected row is filtered out
    panel.clear_search()
    assert model.rowCount() == len(loaded.graph.root.children) + 1


def test_model_is_an_adapter_over_the_scope_tree(loaded):
    model = OpTreeModel()
    model.set_graph(loaded.graph)
    root = loaded.graph.root
    assert model.rowCount() == len(root.children) + 1
    for row, node in enumerate(root.children):
        assert model.index(row, 0).data(NodeRole) is node
    op = loaded.graph.ops["encode_ids"]
    index = model.index_of_name("encode_ids")
    assert index.data(NodeRole).op is op
    assert index.sibling(index.row(), 1).data() == "Placeholder"
    tensor_index = model.index(0, 0, index)
    assert tensor_index.data(NodeRole) is op.outputs[0]
    assert tensor_index.sibling(0, 2).data() == "int64"
    assert tensor_index.sibling(0, 3).data() == "[?, ?]"
    assert model.parent(tensor_index) == index
    assert model.flags(tensor_index) & Qt.ItemFlag.ItemNeverHasChildren


def test_function_bodies_have_their_own_branch(loaded):
    assert loaded.graph.functions, "the demo's tf.scan should produce function bodies"
    model = OpTreeModel()
    model.set_graph(loaded.graph)
    functions = model.index(model.rowCount() - 1, 0)
    assert functions.data() == FUNCTIONS_LABEL
    names = [model.index(r, 0, functions).data() for r in range(model.rowCount(functions))]
    assert sorted(names) == sorted(loaded.graph.functions)
    body_ops = [i.data(NodeRole).op for i in _walk(model, functions)
                if isinstance(i.data(NodeRole), ScopeNode) and i.data(NodeRole).op is not None]
    assert len(body_ops) == sum(len(b) for b in loaded.graph.functions.values())
    assert all(op.function is not None for op in body_ops)


def test_tensor_rows_drag_with_both_mime_formats(loaded):
    model = OpTreeModel()
    model.set_graph(loaded.graph)
    index = model.index_of_name("encode_ids:0")
    assert model.flags(index) & Qt.ItemFlag.ItemIsDragEnabled
    assert model.flags(model.index_of_name("encode_ids")) & Qt.ItemFlag.ItemIsDragEnabled
    assert not model.flags(model.index_of_name("encoder")) & Qt.ItemFlag.ItemIsDragEnabled
    mime = model.mimeData([index, index.sibling(index.row(), 1)])
    assert mime.hasFormat(TENSOR_MIME) and mime.hasText()
    assert mime.text() == "encode_ids:0"
    [drag] = tensors_from_mime(mime)
    assert (drag.name, drag.dtype, drag.shape) == ("encode_ids:0", "int64", "[?, ?]")


@pytest.mark.parametrize(("query", "regex"), [
    ("thought", False), ("type:MatMul", False), ("encoder type:Identity", False),
    ("^encode_(ids|mask)", True), ("Adam", False),
])
def test_search_filters_to_the_core_result_and_counts_it(panel, loaded, query, regex):
    panel.regex.setChecked(regex)
    panel.search.setText(query)
    panel.apply_search()
    expected = loaded.search_index.search(query, regex=regex).ops
    assert expected
    count = len(expected)
    assert panel.count.text() == (f"{count} match" if count == 1 else f"{count} matches")
    shown = [i.data(NodeRole) for i in _walk(panel.model)]
    shown_ops = {n.op.name for n in shown if isinstance(n, ScopeNode) and n.op is not None
                 and panel.model.matches.is_match(n)}
    assert shown_ops == set(expected)
    ancestors = set()
    for name in expected:
        parts = name.split("/")
        ancestors.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for node in shown:
        if isinstance(node, Tensor):
            assert node.op.name in expected
        else:
            assert node.path in expected or node.path in ancestors
    bold = [i for i in _walk(panel.model) if i.data(Qt.ItemDataRole.FontRole) is not None]
    assert len(bold) == count


def test_the_delegate_paints_what_the_model_reports(panel):
    panel.search.setText("gates")
    panel.apply_search()
    ours = panel.view.itemDelegate()
    assert isinstance(ours, OpTreeDelegate)
    qt_own = QStyledItemDelegate()  # fills the option from data(), role by role

    def painted(delegate, index):
        option = QStyleOptionViewItem()
        delegate.initStyleOption(option, index)
        size = option.decorationSize
        return (option.text, option.features, option.icon.cacheKey(), size.width(),
                size.height(), option.font.bold(),
                option.palette.color(QPalette.ColorRole.Text).name(),
                option.backgroundBrush.color().name(), option.backgroundBrush.style())

    rows = list(_walk(panel.model))
    assert any(panel.model.is_highlighted(i.data(NodeRole)) for i in rows)
    for index in rows:
        for column in range(panel.model.columnCount()):
            cell = index.siblingAtColumn(column)
            assert painted(ours, cell) == painted(qt_own, cell)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_a_tall_scroll_bar_paints_without_qt_s_thread_pool(qtbot):
    """Importing the op tree keeps Qt's raster fills on the UI thread: a tall Fusion scroll
    bar's gradients would otherwise go to Qt's GUI thread pool (starting its threads)
    while the UI thread waits."""
    bar = QScrollBar()
    qtbot.addWidget(bar)
    bar.setStyle(QStyleFactory.create("Fusion"))
    bar.resize(16, 800)
    bar.setRange(0, 1000)
    bar.show()
    threads = len(list(Path("/proc/self/task").iterdir()))
    assert not bar.grab().isNull()
    assert len(list(Path("/proc/self/task").iterdir())) == threads


def test_the_delegate_sizes_cells_as_qt_does(panel):
    """The delegate keeps the size hints it gave; they stay Qt's own delegate's, for
    plain and highlighted cells, and follow the view's font and icon size."""
    panel.search.setText("gru")
    panel.apply_search()
    panel.view.expandAll()
    ours = panel.view.itemDelegate()
    qt_own = QStyledItemDelegate(panel.view)

    def sizes(delegate):
        option = QStyleOptionViewItem()
        panel.view.initViewItemOption(option)
        return [delegate.sizeHint(option, index.siblingAtColumn(column)).toTuple()
                for index in _walk(panel.model) for column in range(panel.model.columnCount())]

    rows = list(_walk(panel.model))
    assert any(panel.model.is_highlighted(i.data(NodeRole)) for i in rows)
    first = sizes(ours)
    assert first == sizes(ours) == sizes(qt_own)  # asked twice: the kept answers
    font = panel.view.font()
    font.setPointSize(font.pointSize() + 4)
    panel.view.setFont(font)
    larger = sizes(ours)
    assert larger == sizes(qt_own) and larger != first
    panel.view.setIconSize(QSize(24, 24))  # up to the icons' own 32 px
    assert sizes(ours) == sizes(qt_own) != larger


def test_the_delegate_draws_the_pixels_qt_draws(panel):
    """Plain, highlighted, selected and elided cells, drawn by the delegate itself or
    left to the style, look exactly as Qt's own delegate draws them from data()."""
    panel.resize(420, 600)
    panel.search.setText("gru")
    panel.apply_search()
    panel.view.expandAll()
    panel.select_op("encoder/gru/gates/kernel")

    def pixels():
        QApplication.processEvents()  # the pending relayout (and scroll bar) first
        panel.view.viewport().repaint()
        return panel.view.viewport().grab().toImage()

    def both() -> tuple:
        ours = panel.view.itemDelegate()
        mine = pixels()
        panel.view.setItemDelegate(QStyledItemDelegate(panel.view))
        theirs = pixels()
        panel.view.setItemDelegate(ours)
        return mine, theirs

    ours, theirs = both()
    assert ours == theirs
    font = panel.view.font()  # the delegate follows the view's font when it changes
    font.setPointSize(font.pointSize() + 3)
    panel.view.setFont(font)
    larger, theirs = both()
    assert larger == theirs and larger != ours
    panel.view.setLayoutDirection(Qt.LayoutDirection.RightToLeft)  # left to Qt's painting
    mirrored, theirs = both()
    assert mirrored == theirs and mirrored != larger
    selected = panel.view.visualRect(panel.view.currentIndex())
    assert selected.top() >= 0 and selected.bottom() < ours.height()  # a selected row shown
    highlighted = [i for i in _walk(panel.model) if panel.model.is_highlighted(i.data(NodeRole))
                   and 0 <= panel.view.visualRect(i).top() < ours.height()]
    assert highlighted  # the comparison covered highlighted cells


def test_invalid_regex_is_reported(panel):
    panel.regex.setChecked(True)
    panel.search.setText("(")
    panel.apply_search()
    assert panel.count.text() == "invalid" and "regular expression" in panel.count.toolTip()


def test_typing_is_debounced_enter_walks_matches_escape_clears(panel, qtbot, loaded):
    qtbot.keyClicks(panel.search, "thought_vectors")
    assert panel.count.text() == ""  # not yet: the search waits for typing to pause
    qtbot.waitUntil(lambda: panel.count.text() != "", timeout=2000)
    expected = loaded.search_index.search("thought_vectors").ops
    qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert panel.current_object().op.name == expected[0]
    qtbot.keyClick(panel.search, Qt.Key.Key_Return)
    assert panel.current_object().op.name == expected[1 % len(expected)]
    qtbot.keyClick(panel.search, Qt.Key.Key_Escape)
    assert panel.search.text() == "" and panel.count.text() == ""
    assert panel.model.matches is None
    assert panel.model.rowCount() == len(loaded.graph.root.children) + 1


def test_select_op_expands_scrolls_and_clears_a_hiding_search(panel, qtbot):
    panel.search.setText("type:Placeholder")
    panel.apply_search()
    with qtbot.waitSignal(panel.opSelected) as blocker:
        assert panel.select_op("encoder/gru/gates/kernel")
    assert blocker.args == ["encoder/gru/gates/kernel"]
    assert panel.search.text() == ""
    index = panel.view.currentIndex()
    assert index.data(NodeRole).op.name == "encoder/gru/gates/kernel"
    parent = index.parent()
    while parent.isValid():
        assert panel.view.isExpanded(parent)
        parent = parent.parent()
    assert not panel.select_op("no/such/op")


def test_copy_name_puts_the_tensor_name_on_the_clipboard(panel):
    panel.select_op("encode_mask:0")
    panel.copy_action.trigger()
    assert QGuiApplication.clipboard().text() == "encode_mask:0"
    panel.select_op("encoder/thought_vectors")
    panel.copy_action.trigger()
    assert QGuiApplication.clipboard().text() == "encoder/thought_vectors"


def test_context_menu_adds_tensors_as_input_or_output(panel, qtbot, loaded):
    tensor = loaded.graph.tensor("encode_ids:0")
    menu = panel.context_menu(tensor)
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert set(actions) == {"Copy name", "Add as input", "Add as output"}
    with qtbot.waitSignal(panel.addTensorRequested) as blocker:
        actions["Add as output"].trigger()
    assert blocker.args == ["encode_ids:0", "output"]
    scope_menu = panel.context_menu(loaded.graph.scope_node("encoder"))
    assert [a.text() for a in scope_menu.actions() if a.text()] == ["Copy name"]


def test_window_forwards_add_tensor_requests(window, qtbot, open_and_wait, skip_thoughts):
    loaded = open_and_wait(window, skip_thoughts.directory)
    menu = window.tree.context_menu(loaded.graph.tensor("encode_mask:0"))
    add_input = next(a for a in menu.actions() if a.text() == "Add as input")
    with qtbot.waitSignal(window.addTensorRequested) as blocker:
        add_input.trigger()
    assert blocker.args == ["encode_mask:0", "input"]


def test_details_show_the_op_and_its_links_navigate(window, qtbot, open_and_wait,
                                                    skip_thoughts):
    loaded = open_and_wait(window, skip_thoughts.directory)
    with qtbot.waitSignal(window.opSelected) as blocker:
        window.select_op("encoder/thought_vectors")
    assert blocker.args == ["encoder/thought_vectors"]
    text = window.details.toPlainText()
    op = loaded.graph.ops["encoder/thought_vectors"]
    assert "Identity" in text and "encoder/thought_vectors:0 — float32 [?, 16]" in text
    targets = window.details.targets()
    assert op.inputs[0] in targets and set(op.consumers) <= set(targets)
    consumer = op.consumers[0]
    window.details.anchorClicked.emit(QUrl(f"signet:{targets.index(consumer)}"))
    assert window.tree.current_object().op.name == consumer


def test_details_show_variable_bytes(window, open_and_wait, skip_thoughts):
    loaded = open_and_wait(window, skip_thoughts.directory)
    variable = loaded.variables.by_name()["word_embedding"]
    window.select_op("word_embedding")
    text = window.details.toPlainText()
    assert f"{variable.dtype} [{', '.join(map(str, variable.shape))}]" in text
    assert "training-only" not in text and str(variable.role) in text


def test_summary_lists_facts_and_the_clickable_proposal(window, qtbot, open_and_wait,
                                                        skip_thoughts):
    loaded = open_and_wait(window, skip_thoughts.directory)
    text = window.summary.toPlainText()
    share = loaded.variables.training_bytes / loaded.variables.nbytes
    assert f"{len(loaded.graph):,}" in text and f"{share:.0%}" in text
    assert ", ".join(map(str, loaded.checkpoint.steps)) in text
    proposal = loaded.proposal
    served = [s.tensor for s in proposal.inputs + proposal.outputs]
    assert served == [*skip_thoughts.inputs, "encoder_out/thought_vectors:0"]
    # Each slot by key, its tensor a link, its why under it; the labels, never inputs,
    # and the teacher-forcing note in plain words.
    assert window.summary.targets() == served + list(proposal.labels)
    assert "Proposed signature" in text and "Suggested" not in text
    for slot in proposal.inputs + proposal.outputs:
        assert f"{slot.key} = {slot.tensor}" in text and slot.why in text
    assert "Labels" in text and "decode_post_ids:0" in text
    assert proposal.notes and all(n.text in text for n in proposal.notes)
    with qtbot.waitSignal(window.opSelected) as blocker:
        window.summary.anchorClicked.emit(QUrl(f"signet:{served.index('encode_ids:0')}"))
    assert blocker.args == ["encode_ids"]
    assert window.tree.current_object() is loaded.graph.tensor("encode_ids:0")


def test_summary_shows_pipeline_inputs_by_key_and_the_bound_switches(window, open_and_wait,
                                                                     pipeline_classifier):
    loaded = open_and_wait(window, pipeline_classifier["prefix"])
    text = window.summary.toPlainText()
    assert f"features = {pipeline_classifier['images']}" in text
    assert "Bound for serving" in text
    assert loaded.proposal.bind == {pipeline_classifier["phase"]: False}
    assert f"{pipeline_classifier['phase']} = false" in text
    assert loaded.proposal.bind_why[pipeline_classifier["phase"]] in text
    assert window.summary.targets() == [
        pipeline_classifier["images"], pipeline_classifier["logits"],
        pipeline_classifier["probabilities"], pipeline_classifier["phase"],
        pipeline_classifier["labels"]]
