"""Showing a graph never imports TensorFlow, and its messages read the same as TensorFlow's.

Opening, describing, searching, suggesting, laying out, rendering and ``signet
inspect`` run in a fresh process that asserts ``tensorflow`` never entered
``sys.modules``; each runs on a TF2-behaviour checkpoint (resource variables)
and a TF1-behaviour one (ref variables, a v1 while loop). The protobuf classes
that make this possible (`app.core.graph.protos`) are checked against TensorFlow's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.loader import load_checkpoint
from tests.isolated_build import build

ROOT = Path(__file__).resolve().parents[1]

_DESCRIBE = """
import json, sys
from app.core.graph.graph_view_model import ViewState
from app.core.graph.layout import GraphLayouter
from app.core.loader import load_checkpoint

loaded = load_checkpoint(sys.argv[1])
summary = loaded.summary()
attrs = sum(len(op.attrs()) for op in loaded.graph.ops.values())
found = loaded.search_index.search("type:Placeholder").ops
layouter = GraphLayouter(loaded.graph)
top = [p for p in layouter.scoped.scope_paths if "/" not in p]
layout = layouter.layout(ViewState(frozenset(top), show_training=True))
print(json.dumps({"tensorflow": "tensorflow" in sys.modules, "ops": summary["ops"],
                  "variables": summary["variables"]["count"], "attrs": attrs,
                  "placeholders": found, "nodes": len(layout.nodes),
                  "outputs": summary["suggested_outputs"]}))
"""

_CLI = """
import sys
from app.cli import main
code = main(sys.argv[1:])
print("TENSORFLOW", "tensorflow" in sys.modules, code)
"""


def _python(code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                  "")]),
           "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def tf1_loop(tmp_path_factory) -> Path:
    result = build("tests.test_isolated_build:tf1_loop", tmp_path_factory.mktemp("loop"))
    return Path(result["prefix"])


@pytest.fixture(params=["tf2_behaviour", "tf1_behaviour"])
def checkpoint(request, skip_thoughts, tf1_loop) -> Path:
    return skip_thoughts.directory if request.param == "tf2_behaviour" else tf1_loop


def test_describing_a_checkpoint_never_imports_tensorflow(checkpoint):
    seen = json.loads(_python(_DESCRIBE, str(checkpoint)).splitlines()[-1])
    assert seen["tensorflow"] is False
    here = load_checkpoint(checkpoint)  # the same in this process (TensorFlow loaded here)
    assert seen["ops"] == len(here.graph.meta_graph.graph_def.node) > 0
    assert seen["variables"] == here.variables.count > 0
    assert seen["attrs"] == sum(len(op.attrs()) for op in here.graph.ops.values())
    assert seen["placeholders"] == here.search_index.search("type:Placeholder").ops != []
    assert seen["outputs"] == [s.tensor for s in here.suggestions.outputs]
    assert seen["nodes"] > 0


@pytest.mark.parametrize("command", [["inspect", "--json"], ["inspect", "--ops"],
                                     ["inspect", "--search", "enc.*", "--regex"]])
def test_inspect_never_imports_tensorflow(checkpoint, command):
    out = _python(_CLI, command[0], str(checkpoint), *command[1:])
    assert out.splitlines()[-1] == "TENSORFLOW False 0"


def test_render_never_imports_tensorflow(checkpoint, tmp_path):
    picture = tmp_path / "graph.png"
    out = _python(_CLI, "render", str(checkpoint), "-o", str(picture))
    assert out.splitlines()[-1] == "TENSORFLOW False 0"
    assert picture.stat().st_size > 0


def test_bad_input_still_says_which_file_without_tensorflow(tmp_path, skip_thoughts):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(skip_thoughts.directory, copy)
    meta = copy / (skip_thoughts.latest.name + ".meta")
    meta.write_bytes(meta.read_bytes()[:200])
    proc = subprocess.run([sys.executable, "-c", _CLI, "inspect", str(copy)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.splitlines()[-1] == "TENSORFLOW False 2"
    assert proc.stderr.strip().startswith(f"signet: {meta}: corrupt or truncated meta graph")


def test_messages_read_the_same_as_tensorflows(checkpoint):
    """The meta graph, the ``.index`` entries and the state file, against TensorFlow's readers."""
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2

    loaded = load_checkpoint(checkpoint)
    meta_path = loaded.files.meta
    theirs = meta_graph_pb2.MetaGraphDef.FromString(meta_path.read_bytes())
    assert loaded.graph.meta_graph.SerializeToString(deterministic=True) == \
        theirs.SerializeToString(deterministic=True)
    listed = dict(tf.train.list_variables(str(loaded.checkpoint.prefix)))
    ours = {v.name: list(v.shape) for v in loaded.variables.variables}
    assert ours == {name: list(shape) for name, shape in listed.items()
                    if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}
    state = tf.train.get_checkpoint_state(str(loaded.checkpoint.prefix.parent))
    assert Path(state.model_checkpoint_path).name == loaded.checkpoint.prefix.name


def test_meta_graph_converts_to_tensorflows_class_at_the_export_boundary(loaded):
    from tensorflow.core.protobuf import meta_graph_pb2

    from app.core.graph.protos import to_tensorflow_meta_graph

    converted = to_tensorflow_meta_graph(loaded.graph.meta_graph)
    assert isinstance(converted, meta_graph_pb2.MetaGraphDef)
    assert converted.SerializeToString(deterministic=True) == \
        loaded.graph.meta_graph.SerializeToString(deterministic=True)
    assert to_tensorflow_meta_graph(converted) is converted


def test_saved_model_meta_graphs_read_without_tensorflow(tmp_path):
    """A SavedModel written by TensorFlow's builder: ours equals TensorFlow's parse."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    from app.core.disk.metagraph import read_saved_model_meta_graphs
    from app.core.errors import CheckpointError

    tf1 = tf.compat.v1
    folder = tmp_path / "model" / "1"
    with tf.Graph().as_default(), tf1.Session() as session:
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        w = tf1.get_variable("w", [3, 2])
        y = tf.identity(tf.matmul(x, w), name="y")
        session.run(tf1.global_variables_initializer())
        builder = tf1.saved_model.Builder(str(folder))
        sig = tf1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder.add_meta_graph_and_variables(session, ["serve"],
                                             signature_def_map={"serving_default": sig})
        builder.save()
    path = folder / "saved_model.pb"
    ours = read_saved_model_meta_graphs(path)
    theirs = saved_model_pb2.SavedModel.FromString(path.read_bytes()).meta_graphs
    assert [m.SerializeToString(deterministic=True) for m in ours] == \
        [m.SerializeToString(deterministic=True) for m in theirs]
    assert list(ours[0].meta_info_def.tags) == ["serve"]
    assert ours[0].signature_def["serving_default"].outputs["y"].name == "y:0"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt or truncated SavedModel"):
        read_saved_model_meta_graphs(path)
