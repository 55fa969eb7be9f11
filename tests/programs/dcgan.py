"""DCGAN, small.

In the style of carpedm20/DCGAN-tensorflow ``model.py`` and ``ops.py`` (the
unconditional ``y_dim=None`` branch): ``batch_norm`` objects wrapping contrib's
batch norm in training mode (decay 0.9, scale, updates forced in place), ``conv2d`` /
``deconv2d`` / ``linear`` / ``lrelu`` helpers with ``w``/``biases``/``Matrix``/``bias``
variables, a ``generator`` projecting ``z`` and deconvolving to ``tanh`` images, a
``discriminator`` applied to ``real_images`` and, reusing its variables, to the
generator's images, sigmoid cross-entropy losses ``d_loss = d_loss_real + d_loss_fake``
and ``g_loss``, two Adam optimizers over the ``d_`` and ``g_`` variables, histogram,
image and scalar summaries, and a Saver of every variable (``DCGAN.model-N``).

The original fixes the batch size in its reshapes and ``conv2d_transpose`` output
shapes; here they read the batch from ``z`` so each sample is servable alone. The
original also builds a ``sampler`` (the generator again with ``train=False``) for its
periodic samples; it is left out so that the generator's output is one tensor. Served:
``z`` → the generator's images (key by role: ``predictions``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.contrib_layers import batch_norm as contrib_batch_norm
from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

OUTPUT = 8
C_DIM = 1
Z_DIM = 6
GF_DIM = 4
DF_DIM = 4


class BatchNorm:
    def __init__(self, epsilon: float = 1e-5, momentum: float = 0.9,
                 name: str = "batch_norm") -> None:
        self.epsilon, self.momentum, self.name = epsilon, momentum, name

    def __call__(self, x: Any, train: bool = True) -> Any:
        return contrib_batch_norm(x, train, decay=self.momentum, updates_collections=None,
                                  epsilon=self.epsilon, scale=True, scope=self.name)


def conv2d(input_: Any, output_dim: int, k: int = 5, d: int = 2, stddev: float = 0.02,
           name: str = "conv2d") -> Any:
    with tf1.variable_scope(name):
        w = tf1.get_variable("w", [k, k, input_.shape[-1], output_dim],
                             initializer=tf1.truncated_normal_initializer(stddev=stddev))
        conv = tf.nn.conv2d(input_, w, strides=[1, d, d, 1], padding="SAME")
        biases = tf1.get_variable("biases", [output_dim],
                                  initializer=tf1.constant_initializer(0.0))
        return tf.reshape(tf.nn.bias_add(conv, biases), tf.shape(conv))


def deconv2d(input_: Any, output_shape: list[Any], k: int = 5, d: int = 2,
             stddev: float = 0.02, name: str = "deconv2d") -> Any:
    with tf1.variable_scope(name):
        w = tf1.get_variable("w", [k, k, output_shape[-1], input_.shape[-1]],
                             initializer=tf1.random_normal_initializer(stddev=stddev))
        deconv = tf.nn.conv2d_transpose(input_, w, output_shape=tf.stack(output_shape),
                                        strides=[1, d, d, 1])
        biases = tf1.get_variable("biases", [output_shape[-1]],
                                  initializer=tf1.constant_initializer(0.0))
        deconv = tf.nn.bias_add(deconv, biases)
        deconv.set_shape([None, *output_shape[1:]])
        return deconv


def lrelu(x: Any, leak: float = 0.2) -> Any:
    return tf.maximum(x, leak * x)


def linear(input_: Any, output_size: int, scope: str, stddev: float = 0.02) -> Any:
    with tf1.variable_scope(scope):
        matrix = tf1.get_variable("Matrix", [input_.shape[1], output_size], tf.float32,
                                  tf1.random_normal_initializer(stddev=stddev))
        bias = tf1.get_variable("bias", [output_size],
                                initializer=tf1.constant_initializer(0.0))
        return tf.matmul(input_, matrix) + bias


def conv_out_size_same(size: int, stride: int) -> int:
    return math.ceil(size / stride)


class DCGAN:
    def __init__(self) -> None:
        self.d_bn1, self.d_bn2, self.d_bn3 = (BatchNorm(name=f"d_bn{i}") for i in (1, 2, 3))
        self.g_bn0, self.g_bn1, self.g_bn2, self.g_bn3 = (BatchNorm(name=f"g_bn{i}")
                                                          for i in (0, 1, 2, 3))

    def generator(self, z: Any, train: bool = True) -> Any:
        with tf1.variable_scope("generator"):
            batch = tf.shape(z)[0]
            s_h2 = conv_out_size_same(OUTPUT, 2)
            s_h4 = conv_out_size_same(s_h2, 2)
            s_h8 = conv_out_size_same(s_h4, 2)
            s_h16 = conv_out_size_same(s_h8, 2)
            z_ = linear(z, GF_DIM * 8 * s_h16 * s_h16, "g_h0_lin")
            h0 = tf.reshape(z_, [-1, s_h16, s_h16, GF_DIM * 8])
            h0 = tf.nn.relu(self.g_bn0(h0, train=train))
            h1 = deconv2d(h0, [batch, s_h8, s_h8, GF_DIM * 4], name="g_h1")
            h1 = tf.nn.relu(self.g_bn1(h1, train=train))
            h2 = deconv2d(h1, [batch, s_h4, s_h4, GF_DIM * 2], name="g_h2")
            h2 = tf.nn.relu(self.g_bn2(h2, train=train))
            h3 = deconv2d(h2, [batch, s_h2, s_h2, GF_DIM], name="g_h3")
            h3 = tf.nn.relu(self.g_bn3(h3, train=train))
            h4 = deconv2d(h3, [batch, OUTPUT, OUTPUT, C_DIM], name="g_h4")
            return tf.nn.tanh(h4)

    def discriminator(self, image: Any, reuse: bool = False) -> tuple[Any, Any]:
        with tf1.variable_scope("discriminator") as scope:
            if reuse:
                scope.reuse_variables()
            h0 = lrelu(conv2d(image, DF_DIM, name="d_h0_conv"))
            h1 = lrelu(self.d_bn1(conv2d(h0, DF_DIM * 2, name="d_h1_conv")))
            h2 = lrelu(self.d_bn2(conv2d(h1, DF_DIM * 4, name="d_h2_conv")))
            h3 = lrelu(self.d_bn3(conv2d(h2, DF_DIM * 8, name="d_h3_conv")))
            flat = int(np.prod([conv_out_size_same(OUTPUT, 16)] * 2)) * DF_DIM * 8
            h4 = linear(tf.reshape(h3, [-1, flat]), 1, "d_h4_lin")
            return tf.nn.sigmoid(h4), h4

    def build_model(self) -> None:
        self.inputs = tf1.placeholder(tf.float32, [None, OUTPUT, OUTPUT, C_DIM],
                                      name="real_images")
        self.z = tf1.placeholder(tf.float32, [None, Z_DIM], name="z")
        self.z_sum = tf1.summary.histogram("z", self.z)
        self.G = self.generator(self.z)
        self.D, self.D_logits = self.discriminator(self.inputs, reuse=False)
        self.D_, self.D_logits_ = self.discriminator(self.G, reuse=True)
        self.d_sum = tf1.summary.histogram("d", self.D)
        self.d__sum = tf1.summary.histogram("d_", self.D_)
        self.G_sum = tf1.summary.image("G", self.G)
        xent = tf.nn.sigmoid_cross_entropy_with_logits
        self.d_loss_real = tf.reduce_mean(xent(logits=self.D_logits,
                                               labels=tf.ones_like(self.D)))
        self.d_loss_fake = tf.reduce_mean(xent(logits=self.D_logits_,
                                               labels=tf.zeros_like(self.D_)))
        self.g_loss = tf.reduce_mean(xent(logits=self.D_logits_, labels=tf.ones_like(self.D_)))
        self.d_loss = self.d_loss_real + self.d_loss_fake
        self.g_loss_sum = tf1.summary.scalar("g_loss", self.g_loss)
        self.d_loss_sum = tf1.summary.scalar("d_loss", self.d_loss)
        t_vars = tf1.trainable_variables()
        self.d_vars = [var for var in t_vars if "d_" in var.name]
        self.g_vars = [var for var in t_vars if "g_" in var.name]
        self.saver = tf1.train.Saver(max_to_keep=1)


def build(directory: Path) -> dict[str, Any]:
    rng = np.random.default_rng(70)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(70)
        gan = DCGAN()
        gan.build_model()
        d_optim = tf1.train.AdamOptimizer(0.0002, beta1=0.5).minimize(gan.d_loss,
                                                                       var_list=gan.d_vars)
        g_optim = tf1.train.AdamOptimizer(0.0002, beta1=0.5).minimize(gan.g_loss,
                                                                       var_list=gan.g_vars)
        g_sum = tf1.summary.merge([gan.z_sum, gan.d__sum, gan.G_sum, gan.g_loss_sum])
        d_sum = tf1.summary.merge([gan.z_sum, gan.d_sum, gan.d_loss_sum])
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(3):
                images = rng.uniform(-1, 1, (4, OUTPUT, OUTPUT, C_DIM)).astype(np.float32)
                batch_z = rng.uniform(-1, 1, (4, Z_DIM)).astype(np.float32)
                sess.run([d_optim, d_sum], {gan.inputs: images, gan.z: batch_z})
                sess.run([g_optim, g_sum], {gan.z: batch_z})
                sess.run([g_optim, g_sum], {gan.z: batch_z})
            prefix = gan.saver.save(sess, str(directory / "DCGAN.model"), global_step=3)
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.float32, [None, Z_DIM], name="z")
        sampled = DCGAN().generator(served, train=False)
    batch_z = rng.uniform(-1, 1, (3, Z_DIM)).astype(np.float32)
    files = serve_twin(twin, prefix, directory, {"z": (served, batch_z)},
                       {"predictions": sampled})
    return facts(prefix, files, inputs={"z": gan.z.name}, outputs={"predictions": gan.G.name})
