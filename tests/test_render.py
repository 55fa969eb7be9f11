"""`signet render`: the graph picture without a window, as SVG (real text) or PNG."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from app.cli import main
from app.core.graph.graph_view_model import is_training_op
from app.core.loader import load_checkpoint

SVG = "{http://www.w3.org/2000/svg}"


def _texts(path) -> set[str]:
    root = ET.parse(path).getroot()
    return {(el.text or "").strip() for el in root.iter(f"{SVG}text")}


def test_svg_labels_name_the_top_level_scopes(skip_thoughts, tmp_path, capsys):
    out = tmp_path / "graph.svg"
    assert main(["render", str(skip_thoughts.latest), "-o", str(out)]) == 0
    assert out.name in capsys.readouterr().out
    graph = load_checkpoint(skip_thoughts.latest).graph
    # what the view hides: machinery and summary tag constants (no loss_1 box)
    top = {op.name.split("/")[0] for op in graph.ops.values() if not is_training_op(op)}
    texts = _texts(out)
    assert top <= texts
    assert "gradients" not in texts and "Adam" not in texts

    out_training = tmp_path / "training.svg"
    assert main(["render", str(skip_thoughts.latest), "-o", str(out_training),
                 "--show-training"]) == 0
    assert {"gradients", "Adam", "save"} <= _texts(out_training)


def test_expand_draws_the_scope_contents(skip_thoughts, tmp_path):
    out = tmp_path / "expanded.svg"
    assert main(["render", str(skip_thoughts.latest), "-o", str(out),
                 "--expand", "encoder/gru"]) == 0
    texts = _texts(out)
    assert "thought_vectors" in texts  # inside encoder, opened as gru's parent
    assert "scan" in texts  # inside encoder/gru
    assert any(t.startswith("▾ gru") for t in texts)


def test_png_is_written_offscreen_and_not_blank(skip_thoughts, tmp_path):
    """A fresh process with no display and no Qt platform set: the command sets it."""
    out = tmp_path / "graph.png"
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "app", "render", str(skip_thoughts.latest),
                             "-o", str(out), "--expand", "encoder"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert not image.isNull() and image.width() > 200 and image.height() > 200
    colours = {image.pixel(x, y) for x in range(0, image.width(), 5)
               for y in range(0, image.height(), 5)}
    assert len(colours) > 20  # boxes, fills, edges and anti-aliased text


@pytest.mark.parametrize(("extra", "message"), [
    (["-o", "{tmp}/graph.jpg"], "unknown picture type"),
    (["-o", "{tmp}/missing/graph.svg"], "does not exist"),
    (["-o", "{tmp}/graph.svg", "--expand", "no_such_scope"], "no such name scope"),
])
def test_bad_input_is_one_line_and_exit_2(skip_thoughts, tmp_path, capsys, extra, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    assert main(["render", str(skip_thoughts.latest), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("signet: ") and message in err and "\n" not in err


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["render", str(tmp_path / "nothing"), "-o", str(tmp_path / "g.svg")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("signet: ") and "\n" not in err


def test_series_draw_as_one_box_and_open_by_member_or_name(tmp_path):
    from tests.long_chain import build_long_chain

    prefix = build_long_chain(tmp_path / "chain")
    closed, by_member, by_name = (tmp_path / f"{n}.svg" for n in ("a", "b", "c"))
    assert main(["render", str(prefix), "-o", str(closed)]) == 0
    assert main(["render", str(prefix), "-o", str(by_member),
                 "--expand", "conv3_block2_1_bn"]) == 0
    assert main(["render", str(prefix), "-o", str(by_name), "--expand", "conv4_block[1-6]"]) == 0
    texts = _texts(closed)
    assert {"conv2_block[1-3]", "conv3_block[1-4]"} <= texts and "conv3_block2_1_bn" not in texts
    member = _texts(by_member)
    assert any(t.startswith("▾ conv3_block[1-4]") for t in member)  # the series, opened
    assert any(t.startswith("▾ conv3_block2_1_bn") for t in member)  # the scope in it
    assert "conv4_block5_out" in _texts(by_name)
