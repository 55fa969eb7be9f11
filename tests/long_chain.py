"""A long chain of top-level scopes named like keras.applications' ResNet-50.

About 180 scopes in one chain (``conv1_conv`` … ``conv5_block3_out``, ``predictions``),
each a real variable and MatMul so the checkpoint restores, and a ``keras_learning_phase``
placeholder with a default feeding every ``…_bn`` scope, as Keras' learning phase does.
Built with TensorFlow's v1 API in graph mode (resource variables) and saved with a Saver.
"""

from __future__ import annotations

from pathlib import Path

from tests.checkpoints import save_initialized

STAGES = ((2, 3), (3, 4), (4, 6), (5, 3))  # ResNet-50's blocks per stage


def layer_names() -> list[str]:
    names = ["conv1_conv", "conv1_bn", "conv1_relu"]
    for stage, blocks in STAGES:
        for block in range(1, blocks + 1):
            base = f"conv{stage}_block{block}"
            for i in (1, 2, 3):
                names += [f"{base}_{i}_conv", f"{base}_{i}_bn"]
                if i != 3:
                    names.append(f"{base}_{i}_relu")
            names += [f"{base}_add", f"{base}_out"]
    return [*names, "avg_pool", "predictions"]


def build_long_chain(directory: Path) -> Path:
    from app.core.tf_runtime import tensorflow

    tf = tensorflow()
    tf1 = tf.compat.v1
    directory.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        images = tf1.placeholder(tf.float32, [None, 4], name="images")
        phase = tf1.placeholder_with_default(False, [], name="keras_learning_phase")
        x = images
        for name in layer_names():
            with tf1.variable_scope(name):
                w = tf1.get_variable("kernel", [4, 4])
                x = tf.matmul(x, w)
                if name.endswith("_bn"):
                    x = x + x * tf.cast(phase, tf.float32)
        tf.identity(x, name="logits")
        return Path(save_initialized(graph, directory / "chain.ckpt"))
