"""``tf.contrib.layers`` / slim layers, written out by hand (contrib is gone in TF 2.21).

slim-based programs (research/slim nets, facenet, DCGAN's ``ops.batch_norm``) built
their graphs with these, and the graphs Signet must read are those graphs: variables
named ``weights``/``biases``/``beta``/``moving_mean``, a batch norm whose training
switch is a Python bool or a tensor (then `tf.cond`: v1 Switch/Merge around a fused
batch norm, moving averages updated in place or through ``UPDATE_OPS``), dropout in a
cond on the same switch. The bodies follow contrib's ``layers.py`` op for op where the
op structure matters; they are not a general library (NHWC only, no arg scopes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

tf1 = tf.compat.v1



def smart_cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """contrib's ``utils.smart_cond``: a Python bool picks a branch while building, a
    tensor builds a `tf.cond` (v1 Switch/Merge under TF1 behaviour)."""
    if isinstance(pred, bool):
        return true_fn() if pred else false_fn()
    return tf1.cond(pred, true_fn, false_fn)


def assign_moving_average(variable: Any, value: Any, decay: float) -> Any:
    """``moving_averages.assign_moving_average(..., zero_debias=False)``."""
    with tf.name_scope("AssignMovingAvg"):
        delta = (variable - value) * (1.0 - decay)
        return tf1.assign_sub(variable, delta)


def batch_norm(inputs: Any, is_training: Any = True, *, decay: float = 0.999,
               epsilon: float = 0.001, center: bool = True, scale: bool = False,
               updates_collections: str | None = "update_ops",
               variables_collections: Sequence[str] = (), scope: str | None = None) -> Any:
    """``tf.contrib.layers.batch_norm`` with ``fused=None``: fused for rank-4 inputs,
    ``nn.moments`` + ``batch_normalization`` otherwise. ``updates_collections=None``
    forces the moving-average updates as control dependencies of the output (facenet,
    DCGAN); a collection name defers them to the train op (slim's default)."""
    channels = inputs.shape[-1]
    with tf1.variable_scope(scope, "BatchNorm", [inputs]):
        model = [tf1.GraphKeys.GLOBAL_VARIABLES, tf1.GraphKeys.MODEL_VARIABLES,
                 *variables_collections]
        beta = (tf1.get_variable("beta", [channels], initializer=tf1.zeros_initializer(),
                                 collections=[*model, tf1.GraphKeys.TRAINABLE_VARIABLES])
                if center else tf.zeros([channels]))
        gamma = (tf1.get_variable("gamma", [channels], initializer=tf1.ones_initializer(),
                                  collections=[*model, tf1.GraphKeys.TRAINABLE_VARIABLES])
                 if scale else tf.ones([channels]))
        moving_mean = tf1.get_variable("moving_mean", [channels], trainable=False,
                                       initializer=tf1.zeros_initializer(), collections=model)
        moving_variance = tf1.get_variable("moving_variance", [channels], trainable=False,
                                           initializer=tf1.ones_initializer(),
                                           collections=model)
        if inputs.shape.rank == 4:
            outputs, mean, variance = smart_cond(
                is_training,
                lambda: tf1.nn.fused_batch_norm(inputs, gamma, beta, epsilon=epsilon),
                lambda: tf1.nn.fused_batch_norm(inputs, gamma, beta, mean=moving_mean,
                                                variance=moving_variance, epsilon=epsilon,
                                                is_training=False))
            if is_training is False:
                return outputs

            def update_moving():
                return (assign_moving_average(moving_mean, mean, decay),
                        assign_moving_average(moving_variance, variance, decay))

            if updates_collections is None:
                def forced():
                    with tf.control_dependencies(update_moving()):
                        return tf.identity(outputs)

                return smart_cond(is_training, forced, lambda: outputs)
            updates = smart_cond(is_training, update_moving,
                                 lambda: (moving_mean, moving_variance))
            for update in updates:
                tf1.add_to_collection(updates_collections, update)
            return outputs
        if is_training is False:
            mean, variance = moving_mean, moving_variance
        else:
            axes = list(range(inputs.shape.rank - 1))
            batch_mean, batch_variance = tf1.nn.moments(inputs, axes)
            if updates_collections is None:
                def forced():
                    with tf.control_dependencies(
                            [assign_moving_average(moving_mean, batch_mean, decay),
                             assign_moving_average(moving_variance, batch_variance, decay)]):
                        return tf.identity(batch_mean), tf.identity(batch_variance)

                mean, variance = smart_cond(is_training, forced,
                                            lambda: (moving_mean, moving_variance))
            else:
                updates = smart_cond(
                    is_training,
                    lambda: (assign_moving_average(moving_mean, batch_mean, decay),
                             assign_moving_average(moving_variance, batch_variance, decay)),
                    lambda: (moving_mean, moving_variance))
                for update in updates:
                    tf1.add_to_collection(updates_collections, update)
                mean, variance = smart_cond(is_training, lambda: (batch_mean, batch_variance),
                                            lambda: (moving_mean, moving_variance))
        return tf1.nn.batch_normalization(inputs, mean, variance, beta, gamma, epsilon)


def _weights(name: str, shape: list[int], regularizer: Callable[[Any], Any] | None) -> Any:
    return tf1.get_variable(name, shape, initializer=tf1.glorot_uniform_initializer(),
                            regularizer=regularizer,
                            collections=[tf1.GraphKeys.GLOBAL_VARIABLES,
                                         tf1.GraphKeys.MODEL_VARIABLES,
                                         tf1.GraphKeys.TRAINABLE_VARIABLES])


def _finish(outputs: Any, num_outputs: int, activation_fn: Callable[[Any], Any] | None,
            normalizer_fn: Callable[..., Any] | None, normalizer_params: dict | None) -> Any:
    if normalizer_fn is not None:
        outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    else:
        biases = tf1.get_variable("biases", [num_outputs], initializer=tf1.zeros_initializer())
        outputs = tf.nn.bias_add(outputs, biases)
    return activation_fn(outputs) if activation_fn is not None else outputs


def conv2d(inputs: Any, num_outputs: int, kernel_size: int, *, stride: int = 1,
           padding: str = "SAME", activation_fn: Callable[[Any], Any] | None = None,
           normalizer_fn: Callable[..., Any] | None = None,
           normalizer_params: dict | None = None,
           weights_regularizer: Callable[[Any], Any] | None = None, scope: str) -> Any:
    """``slim.conv2d`` (pass ``activation_fn=tf.nn.relu`` for slim's default)."""
    with tf1.variable_scope(scope):
        kernel = _weights("weights", [kernel_size, kernel_size, inputs.shape[-1], num_outputs],
                          weights_regularizer)
        outputs = tf.nn.conv2d(inputs, kernel, [1, stride, stride, 1], padding)
        return _finish(outputs, num_outputs, activation_fn, normalizer_fn, normalizer_params)


def fully_connected(inputs: Any, num_outputs: int, *,
                    activation_fn: Callable[[Any], Any] | None = None,
                    normalizer_fn: Callable[..., Any] | None = None,
                    normalizer_params: dict | None = None,
                    weights_regularizer: Callable[[Any], Any] | None = None,
                    scope: str) -> Any:
    """``slim.fully_connected`` on a rank-2 input."""
    with tf1.variable_scope(scope):
        weights = _weights("weights", [inputs.shape[-1], num_outputs], weights_regularizer)
        outputs = tf.matmul(inputs, weights)
        return _finish(outputs, num_outputs, activation_fn, normalizer_fn, normalizer_params)


def dropout(inputs: Any, keep_prob: float, is_training: Any, scope: str = "Dropout") -> Any:
    """``slim.dropout``: ``tf.layers.Dropout(rate=1 - keep_prob)`` applied with
    ``training=is_training``, i.e. a cond between a dropped and an identity branch."""
    with tf1.variable_scope(scope):
        return smart_cond(is_training, lambda: tf1.nn.dropout(inputs, rate=1.0 - keep_prob),
                          lambda: tf.identity(inputs))


def l2_regularizer(scale: float) -> Callable[[Any], Any]:
    """``slim.l2_regularizer``: ``scale * l2_loss(w)``, collected by ``get_variable``
    into ``REGULARIZATION_LOSSES``."""

    def regularize(weights: Any) -> Any:
        with tf.name_scope("l2_regularizer"):
            return tf.multiply(scale, tf.nn.l2_loss(weights), name="value")

    return regularize
