"""`error_line`: the line of a TensorFlow error that says what went wrong, on real errors of
each shape TF 2.21 raises (never the bare "Graph execution error:" header)."""

from __future__ import annotations

import pytest

from app.core.errors import ExportError, error_line
from app.core.export import recipe
from app.core.tf_runtime import tensorflow


def _raised(run) -> Exception:
    with pytest.raises(Exception) as caught:  # each case checks its own class and words
        run()
    return caught.value


@pytest.fixture(scope="module")
def graph_errors(tmp_path_factory):
    """Real errors: a session run (header, "Detected at node", "Node:", the kernel's line),
    an assertion (header, then the kernel's line), a Saver's restore (its own paragraph
    and "Original error:" before all that); and the prefix of a checkpoint without
    ``ref_var``."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    folder = tmp_path_factory.mktemp("errors")
    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        ref = tf1.Variable([1.0], use_resource=False, name="ref_var")
        resource = tf1.Variable([1.0], use_resource=True, name="resource_var")
        other = tf1.Variable([2.0], use_resource=False, name="other")
        x = tf1.placeholder(tf.float32, [None], name="x")
        positive = tf1.assert_positive(x, name="positive")
        sess.run(other.initializer)
        prefix = tf1.train.Saver([other]).save(sess, str(folder / "m"))
        errors = {
            "ref": _raised(lambda: sess.run(tf.identity(ref))),
            "resource": _raised(lambda: sess.run(tf.identity(resource))),
            "assert": _raised(lambda: sess.run(positive, {x: [0.0]})),
            "restore": _raised(lambda: tf1.train.Saver([ref]).restore(sess, prefix)),
        }
    return errors, prefix


def test_a_session_run_error_gives_the_kernels_line(graph_errors):
    errors, _ = graph_errors
    assert errors["ref"].message.startswith("Graph execution error:\n\nDetected at node ")
    assert error_line(errors["ref"]) == "Attempting to use uninitialized value ref_var"
    assert error_line(errors["resource"]).startswith(
        "Could not find variable resource_var. This could mean that the variable has been "
        "deleted.")
    assert error_line(str(errors["ref"])) == error_line(errors["ref"])  # the text alone too


def test_an_error_without_a_node_header_gives_the_kernels_line(graph_errors):
    errors, _ = graph_errors
    message = errors["assert"].message
    assert message.startswith("Graph execution error:\n\n") and "Detected at" not in message
    assert error_line(errors["assert"]).startswith(
        "assertion failed: [] [Condition x > 0 did not hold element-wise:]")


def test_a_savers_restore_error_gives_the_missing_key(graph_errors):
    errors, _ = graph_errors
    assert errors["restore"].message.startswith("Restoring from checkpoint failed.")
    assert error_line(errors["restore"]) == "Key ref_var not found in checkpoint"


def test_an_error_without_wrapping_gives_its_first_line(tmp_path):
    tf = tensorflow()
    path = tmp_path / "not.tfrecord"
    path.write_bytes(b"not a record, not at all")
    error = _raised(lambda: list(tf.compat.v1.io.tf_record_iterator(str(path))))
    assert isinstance(error, tf.errors.DataLossError)
    assert error_line(error) == "corrupted record at 0 (Is this even a TFRecord file?)"
    assert error_line(ValueError("first\nsecond")) == "first"
    assert error_line(ValueError()) == "ValueError"


def test_the_exports_restore_names_the_missing_key(graph_errors):
    """`recipe.restore` on a checkpoint without a variable the graph's Saver restores."""
    tf = tensorflow()
    tf1 = tf.compat.v1
    _, prefix = graph_errors
    graph = tf.Graph()
    with graph.as_default():
        saver = tf1.train.Saver([tf1.Variable([1.0], use_resource=False, name="ref_var")])
    with pytest.raises(ExportError) as caught:
        recipe.restore(graph, saver, prefix)
    assert str(caught.value) == (f"{prefix}: cannot restore the variables (NotFoundError: "
                                 "Key ref_var not found in checkpoint); is the checkpoint "
                                 "complete and undamaged? copy its files again")
