"""A variational autoencoder in training, in the style of hwalsuklee/tensorflow-mnist-VAE
``vae.py`` (``gaussian_MLP_encoder``, ``bernoulli_MLP_decoder``, ``autoencoder``) and
``run_main.py`` (the ``input_img``/``target_img``/``keep_prob`` placeholders, Adam, the
feed-dict training loop with ``keep_prob: 0.9``).

The encoder (``w0``/``b0`` elu, ``w1``/``b1`` tanh, each with ``tf.nn.dropout(keep_prob)``)
gives the Gaussian parameters: the mean is the first half of its output (a slice), the
standard deviation ``1e-6 + softplus`` of the second half. The latent sample is drawn by
the reparameterisation ``z = mu + sigma * random_normal(shape(mu))``; the Bernoulli
decoder (tanh, elu, sigmoid, dropout too) reconstructs the image, clipped for the log
likelihood; the loss is the negative ELBO (likelihood against ``target_img`` plus the KL
term). The original never saves (it only plots); the default Saver stands for a user's.
The manifold-learning decoder on a ``latent_variable`` placeholder is built only with
``--PMLR`` (off by default) and is left out.

Smaller than the original: 16-pixel images, 8 hidden units, a 2-D latent space.

What a user serves: the reconstruction cannot be served, because it decodes a random
sample (a served model must answer the same twice, and Signet refuses random ops on a
signature's path). The deterministic model of the data is the encoder: the posterior mean
is the VAE's encoding of an image (what the original's manifold plot scatters, up to the
noise). So the signature is ``input_img`` → the mean (an auto-named slice, keyed
``predictions``), with ``keep_prob`` bound to 1.0; ``target_img`` is the label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.heldout import twin

DIM_IMG = 16
N_HIDDEN = 8
DIM_Z = 2


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def _layer(x: Any, name: str, units: int) -> Any:
    tf, tf1 = _tf()
    w = tf1.get_variable(f"w{name}", [x.shape[1], units],
                         initializer=tf1.variance_scaling_initializer())
    b = tf1.get_variable(f"b{name}", [units], initializer=tf1.constant_initializer(0.0))
    return tf.matmul(x, w) + b


def gaussian_mlp_encoder(x: Any, keep_prob: Any) -> tuple[Any, Any]:
    tf, tf1 = _tf()
    with tf1.variable_scope("gaussian_MLP_encoder"):
        h0 = tf1.nn.dropout(tf.nn.elu(_layer(x, "0", N_HIDDEN)), keep_prob)
        h1 = tf1.nn.dropout(tf.nn.tanh(_layer(h0, "1", N_HIDDEN)), keep_prob)
        gaussian_params = _layer(h1, "o", DIM_Z * 2)
        mean = gaussian_params[:, :DIM_Z]
        stddev = 1e-6 + tf.nn.softplus(gaussian_params[:, DIM_Z:])
    return mean, stddev


def bernoulli_mlp_decoder(z: Any, keep_prob: Any) -> Any:
    tf, tf1 = _tf()
    with tf1.variable_scope("bernoulli_MLP_decoder"):
        h0 = tf1.nn.dropout(tf.nn.tanh(_layer(z, "0", N_HIDDEN)), keep_prob)
        h1 = tf1.nn.dropout(tf.nn.elu(_layer(h0, "1", N_HIDDEN)), keep_prob)
        return tf.sigmoid(_layer(h1, "o", DIM_IMG))


def autoencoder(x_hat: Any, x: Any, keep_prob: Any) -> tuple[Any, Any, Any]:
    tf, tf1 = _tf()
    mu, sigma = gaussian_mlp_encoder(x_hat, keep_prob)
    z = mu + sigma * tf1.random_normal(tf.shape(mu), 0, 1, dtype=tf.float32)
    y = tf.clip_by_value(bernoulli_mlp_decoder(z, keep_prob), 1e-8, 1 - 1e-8)
    marginal_likelihood = tf.reduce_mean(tf.reduce_sum(
        x * tf1.log(y) + (1 - x) * tf1.log(1 - y), 1))
    kl_divergence = tf.reduce_mean(0.5 * tf.reduce_sum(
        tf.square(mu) + tf.square(sigma) - tf1.log(1e-8 + tf.square(sigma)) - 1, 1))
    loss = -(marginal_likelihood - kl_divergence)
    return mu, y, loss


def build(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    rng = np.random.default_rng(71)
    train_data = (rng.uniform(0, 1, (32, DIM_IMG)) > 0.5).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(71)
        x_hat = tf1.placeholder(tf.float32, shape=[None, DIM_IMG], name="input_img")
        x = tf1.placeholder(tf.float32, shape=[None, DIM_IMG], name="target_img")
        keep_prob = tf1.placeholder(tf.float32, name="keep_prob")
        mu, _, loss = autoencoder(x_hat, x, keep_prob)
        train_op = tf1.train.AdamOptimizer(1e-2).minimize(loss)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer(), feed_dict={keep_prob: 0.9})
            for i in range(4):
                batch = train_data[i * 8:(i + 1) * 8]
                sess.run(train_op, {x_hat: batch, x: batch, keep_prob: 0.9})
            prefix = tf1.train.Saver().save(sess, str(directory / "vae.ckpt"),
                                            global_step=4)

    sample = (np.random.default_rng(72).uniform(0, 1, (4, DIM_IMG)) > 0.5).astype(np.float32)
    serving = tf.Graph()
    with serving.as_default():
        image = tf1.placeholder(tf.float32, [None, DIM_IMG], name="input_img")
        twin_mean, _ = gaussian_mlp_encoder(image, 1.0)
    got = twin.answer(serving, prefix, {"predictions": twin_mean}, {image: sample})
    return twin.facts(directory, prefix, inputs={"input_img": x_hat.name},
                      outputs={"predictions": mu.name}, labels=[x.name],
                      switches={keep_prob.name: 1.0}, samples={"input_img": sample},
                      expected=got)
