"""Training graphs and their inference twins, built from the same model code.

Each model function takes ``training`` and builds the same variables either way. A
builder trains the training graph a few steps (so batch norm's moving statistics
leave their initial 0/1), saves ONE checkpoint with its ``.meta``, then builds the
twin with ``training=False``, restores that checkpoint and records the twin's answers
on fixed inputs: what a served model must answer.

`build_many` runs in a child process for TF1 behaviour (``tests/isolated_build.py``
with ``disable_v2_behavior`` and ``TF_USE_LEGACY_KERAS=1``: ref variables, v1 cond,
``tf.compat.v1.layers``, tf-keras); the test process calls it directly for TF2
behaviour (resource variables).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SHAPE = (4, 4, 3)  # one example
EVAL_BATCH = 5
MOMENTUM = 0.5  # moving statistics move far from 0/1 in three steps
EMA_DECAY = 0.5


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def _dense(tf1, h, units: int, name: str):
    """A hand-written dense layer (get_variable: ref or resource as the behaviour says)."""
    with tf1.variable_scope(name):
        w = tf1.get_variable("kernel", [h.shape[-1], units])
        b = tf1.get_variable("bias", [units], initializer=tf1.constant_initializer(0.1))
        return tf1.matmul(h, w) + b


def _flat(tf, x):
    return tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])


def _legacy_dropout(tf, tf1, x, keep_prob: float):
    """``tf.nn.dropout`` as TF 1.x wrote it (before 1.13): RealDiv, Add, Floor, Mul."""
    with tf1.name_scope("dropout"):
        random = keep_prob + tf1.random_uniform(tf.shape(x), dtype=x.dtype)
        return tf.math.divide(x, keep_prob) * tf.floor(random)


def legacy_dropout(x, training: bool, updates: list) -> Any:
    tf, tf1 = _tf()
    h = tf.nn.relu(_dense(tf1, _flat(tf, x), 16, "hidden"))
    h = _legacy_dropout(tf, tf1, h, 0.5 if training else 1.0)
    return _dense(tf1, h, 3, "out")


def nn_dropout(x, training: bool, updates: list) -> Any:
    tf, tf1 = _tf()
    h = tf.nn.relu(_dense(tf1, _flat(tf, x), 16, "hidden"))
    with tf1.variable_scope("keep"):
        h = tf1.nn.dropout(h, keep_prob=0.5 if training else 1.0)
    h = tf.nn.relu(_dense(tf1, h, 8, "hidden2"))
    with tf1.variable_scope("rate"):
        h = tf.nn.dropout(h, rate=0.3 if training else 0.0)
    return _dense(tf1, h, 3, "out")


def layers(x, training: bool, updates: list) -> Any:
    """``tf.compat.v1.layers``: fused and moments batch norm, dropout with a constant
    and with a training flag (a v1 cond). Needs TF_USE_LEGACY_KERAS=1."""
    tf, tf1 = _tf()
    flag = tf1.placeholder_with_default(training, [], name="is_training")
    h = tf1.layers.conv2d(x, 4, 3, padding="same", name="conv")
    h = tf1.layers.batch_normalization(h, training=training, momentum=MOMENTUM, fused=True,
                                       name="bn_conv")
    h = tf1.layers.flatten(tf.nn.relu(h))
    h = tf1.layers.dense(h, 16, name="dense")
    h = tf1.layers.batch_normalization(h, training=training, momentum=MOMENTUM, fused=False,
                                       name="bn_dense")
    h = tf1.layers.dropout(tf.nn.relu(h), 0.5, training=training, name="drop_const")
    h = tf1.layers.dropout(h, 0.3, training=flag, name="drop_flag")
    updates.extend(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS))
    return tf1.layers.dense(h, 3, name="logits")


def keras(x, training: bool, updates: list) -> Any:
    """tf-keras layers called with ``training``: fused BN on 4-D, moments BN on 2-D."""
    import tf_keras

    L = tf_keras.layers
    bn_conv = L.BatchNormalization(momentum=MOMENTUM, name="bn_conv")
    bn_dense = L.BatchNormalization(momentum=MOMENTUM, name="bn_dense")
    h = L.Conv2D(4, 3, padding="same", name="conv")(x)
    h = L.ReLU()(bn_conv(h, training=training))
    h = L.Dense(16, name="dense")(L.Flatten()(h))
    h = L.ReLU()(bn_dense(h, training=training))
    h = L.Dropout(0.5, name="drop")(h, training=training)
    updates.extend([*bn_conv.updates, *bn_dense.updates])
    return L.Dense(3, name="logits")(h)


def keras_learning_phase(x, training: bool, updates: list) -> Any:
    """tf-keras layers left to the learning phase (a v1 ``cond`` on the
    ``keras_learning_phase`` placeholder, fed True while training, False by default)."""
    import tf_keras

    L = tf_keras.layers
    arg = {} if training else {"training": False}
    bn_conv = L.BatchNormalization(momentum=MOMENTUM, name="bn_conv")
    bn_dense = L.BatchNormalization(momentum=MOMENTUM, name="bn_dense")
    h = L.Conv2D(4, 3, padding="same", name="conv")(x)
    h = L.ReLU()(bn_conv(h, **arg))
    h = L.Dense(16, name="dense")(L.Flatten()(h))
    h = L.ReLU()(bn_dense(h, **arg))
    h = L.Dropout(0.5, name="drop")(h, **arg)
    updates.extend([*bn_conv.updates, *bn_dense.updates])
    return L.Dense(3, name="logits")(h)


def _batch_norm(tf, tf1, x, training: bool, fused: bool, updates: list, name: str,
                inline: bool = False):
    """Batch norm by hand, as slim and hand-written models do it: ``tf.nn.moments`` +
    ``tf.nn.batch_normalization`` or ``fused_batch_norm``, moving averages by assign_sub;
    ``inline`` hangs the updates on the output, as ``updates_collections=None`` does."""
    channels = int(x.shape[-1])
    with tf1.variable_scope(name):
        gamma = tf1.get_variable("gamma", [channels], initializer=tf1.ones_initializer())
        beta = tf1.get_variable("beta", [channels], initializer=tf1.zeros_initializer())
        moving_mean = tf1.get_variable("moving_mean", [channels], trainable=False,
                                       initializer=tf1.zeros_initializer())
        moving_var = tf1.get_variable("moving_variance", [channels], trainable=False,
                                      initializer=tf1.ones_initializer())
        if not training:
            if fused:
                return tf1.nn.fused_batch_norm(x, gamma, beta, moving_mean, moving_var,
                                               epsilon=1e-3, is_training=False)[0]
            return tf.nn.batch_normalization(x, moving_mean, moving_var, beta, gamma, 1e-3)
        if fused:
            y, mean, var = tf1.nn.fused_batch_norm(x, gamma, beta, epsilon=1e-3,
                                                   is_training=True)
        else:
            mean, var = tf.nn.moments(x, list(range(len(x.shape) - 1)))
            y = tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3)
        assigns = [tf1.assign_sub(variable, (variable - value) * (1 - MOMENTUM),
                                  name="AssignMovingAvg")
                   for variable, value in ((moving_mean, mean), (moving_var, var))]
        if not inline:
            updates.extend(assigns)
            return y
        with tf1.control_dependencies(assigns):
            return tf.identity(y)


def handwritten(x, training: bool, updates: list) -> Any:
    tf, tf1 = _tf()
    with tf1.variable_scope("conv"):
        k = tf1.get_variable("kernel", [3, 3, 3, 4])
        h = tf.nn.conv2d(x, k, [1, 1, 1, 1], "SAME")
    h = tf.nn.relu(_batch_norm(tf, tf1, h, training, True, updates, "bn_fused"))
    h = _dense(tf1, _flat(tf, h), 16, "dense")
    h = tf.nn.relu(_batch_norm(tf, tf1, h, training, False, updates, "bn_moments"))
    return _dense(tf1, h, 3, "out")


def inline_updates(x, training: bool, updates: list) -> Any:
    tf, tf1 = _tf()
    h = _dense(tf1, _flat(tf, x), 16, "dense")
    h = tf.nn.relu(_batch_norm(tf, tf1, h, training, False, updates, "bn", inline=True))
    return _dense(tf1, h, 3, "out")


def ema_cond_bn(x, training: bool, updates: list) -> Any:
    """The classic hand-written TF1 batch norm: ``tf.cond`` on a phase flag between
    ``ema.apply([batch_mean, batch_var])`` (zero-debiased averages of tensors, updated
    inside the cond) and ``ema.average``. Needs TF1 behaviour (a v1 cond)."""
    tf, tf1 = _tf()
    h = _dense(tf1, _flat(tf, x), 16, "dense")
    with tf1.variable_scope("bn"):
        beta = tf1.get_variable("beta", [16], initializer=tf1.zeros_initializer())
        gamma = tf1.get_variable("gamma", [16], initializer=tf1.ones_initializer())
        batch_mean, batch_var = tf.nn.moments(h, [0], name="moments")
        average = tf1.train.ExponentialMovingAverage(decay=MOMENTUM)
        phase = tf1.placeholder_with_default(training, [], name="phase_train")

        def with_update():
            with tf1.control_dependencies([average.apply([batch_mean, batch_var])]):
                return tf.identity(batch_mean), tf.identity(batch_var)

        mean, var = tf1.cond(phase, with_update, lambda: (average.average(batch_mean),
                                                          average.average(batch_var)))
        h = tf.nn.batch_normalization(h, mean, var, beta, gamma, 1e-3)
    return _dense(tf1, tf.nn.relu(h), 3, "out")


def ema_bn(x, training: bool, updates: list) -> Any:
    """Batch norm whose moving statistics are ``ExponentialMovingAverage`` shadows of the
    batch moments (zero-debiased: a biased accumulator and a step count come first)."""
    tf, tf1 = _tf()
    h = _dense(tf1, _flat(tf, x), 16, "dense")
    with tf1.variable_scope("bn"):
        beta = tf1.get_variable("beta", [16], initializer=tf1.zeros_initializer())
        gamma = tf1.get_variable("gamma", [16], initializer=tf1.ones_initializer())
        batch_mean, batch_var = tf.nn.moments(h, [0], name="moments")
        average = tf1.train.ExponentialMovingAverage(decay=MOMENTUM)
        update = average.apply([batch_mean, batch_var])
        if training:
            updates.append(update)
            mean, var = batch_mean, batch_var
        else:
            mean, var = average.average(batch_mean), average.average(batch_var)
        h = tf.nn.batch_normalization(h, mean, var, beta, gamma, 1e-3)
    return _dense(tf1, tf.nn.relu(h), 3, "out")


def _debiased_average(tf, tf1, value, name: str, updates: list):
    """``assign_moving_average(zero_debias=True)`` as TF 1.x wrote it, on whichever
    variables the behaviour makes: a biased accumulator and a step count, then the
    average. On resource variables the new accumulator value reaches the average
    through a read that waits for the update (a control edge), not a data edge."""
    with tf1.variable_scope(name):
        zeros = tf1.zeros_initializer()
        average = tf1.get_variable("average", value.shape, initializer=zeros, trainable=False)
        biased = tf1.get_variable("biased", value.shape, initializer=zeros, trainable=False)
        step = tf1.get_variable("local_step", [], initializer=zeros, trainable=False)
        decay = 1 - MOMENTUM
        update_biased = tf1.assign_sub(biased, (biased - value) * decay)
        update_step = tf1.assign_add(step, 1.0)
        factor = 1 - tf.pow(1.0 - decay, update_step)
        updates.append(tf1.assign_sub(average, average - update_biased / factor,
                                      name="AssignMovingAvg"))
        return average


def debiased_bn(x, training: bool, updates: list) -> Any:
    tf, tf1 = _tf()
    h = _dense(tf1, _flat(tf, x), 16, "dense")
    with tf1.variable_scope("bn"):
        beta = tf1.get_variable("beta", [16], initializer=tf1.zeros_initializer())
        gamma = tf1.get_variable("gamma", [16], initializer=tf1.ones_initializer())
        batch_mean, batch_var = tf.nn.moments(h, [0], name="moments")
        moving_mean = _debiased_average(tf, tf1, batch_mean, "mean", updates)
        moving_var = _debiased_average(tf, tf1, batch_var, "variance", updates)
        if training:
            mean, var = batch_mean, batch_var
        else:
            mean, var = moving_mean, moving_var
        h = tf.nn.batch_normalization(h, mean, var, beta, gamma, 1e-3)
    return _dense(tf1, tf.nn.relu(h), 3, "out")


def _tf20_dropout(tf, tf1, x, rate: float):
    """``tf.nn.dropout`` as TF 2.0-2.3 wrote it: ``x * scale * cast(mask)``."""
    with tf1.name_scope("dropout"):
        keep = tf1.random_uniform(tf.shape(x), dtype=x.dtype) >= rate
        return x * (1 / (1 - rate)) * tf.cast(keep, x.dtype)


def dropout_variants(x, training: bool, updates: list) -> Any:
    """Cast/Mul dropout, a broadcast ``noise_shape`` and a stateless dropout; the twin
    skips them, as Keras does with ``training=False``."""
    tf, tf1 = _tf()
    h = tf.nn.relu(_dense(tf1, _flat(tf, x), 16, "hidden"))
    if training:
        with tf1.variable_scope("cast"):
            h = _tf20_dropout(tf, tf1, h, 0.4)
        with tf1.variable_scope("noise"):
            h = tf.nn.dropout(h, rate=0.3, noise_shape=[1, 16])
        with tf1.variable_scope("stateless"):
            h = tf.nn.experimental.stateless_dropout(h, rate=0.2, seed=[3, 4])
    return _dense(tf1, h, 3, "out")


def rnn_dropout(x, training: bool, updates: list) -> Any:
    """An LSTM under ``dynamic_rnn`` (a v1 while loop) with ``DropoutWrapper`` on its
    inputs and outputs: the masks are drawn inside the loop. Needs TF1 behaviour."""
    tf, tf1 = _tf()
    steps = tf.reshape(x, [-1, SHAPE[0], SHAPE[1] * SHAPE[2]])
    keep = 0.6 if training else 1.0
    cell = tf1.nn.rnn_cell.DropoutWrapper(tf1.nn.rnn_cell.LSTMCell(8, name="lstm"),
                                          input_keep_prob=keep, output_keep_prob=keep)
    outputs, _ = tf1.nn.dynamic_rnn(cell, steps, dtype=tf.float32, scope="rnn")
    return _dense(tf1, outputs[:, -1], 3, "out")


def ema(x, training: bool, updates: list) -> Any:
    tf, tf1 = _tf()
    h = tf.nn.relu(_dense(tf1, _flat(tf, x), 16, "hidden"))
    return _dense(tf1, h, 3, "out")


MODELS = {f.__name__: f for f in (legacy_dropout, nn_dropout, dropout_variants, layers, keras,
                                  keras_learning_phase, handwritten, inline_updates,
                                  ema_cond_bn, ema_bn, debiased_bn, rnn_dropout, ema)}


def build(directory: Path, model: str, steps: int = 3) -> dict[str, Any]:
    """Train ``model`` ``steps`` steps, save one checkpoint, answer with its twin."""
    tf, tf1 = _tf()
    directory.mkdir(parents=True, exist_ok=True)
    make = MODELS[model]
    rng = np.random.default_rng(7)
    batches = rng.normal(1.0, 2.0, size=(steps, 8, *SHAPE)).astype(np.float32)
    targets = rng.normal(size=(steps, 8, 3)).astype(np.float32)
    sample = rng.normal(1.0, 2.0, size=(EVAL_BATCH, *SHAPE)).astype(np.float32)

    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(1)
        x = tf1.placeholder(tf.float32, [None, *SHAPE], name="x")
        target = tf1.placeholder(tf.float32, [None, 3], name="target")
        updates: list = []
        y = tf.identity(make(x, True, updates), name="prediction")
        loss = tf.reduce_mean(tf.square(y - target))
        with tf1.control_dependencies(updates):
            train = tf1.train.GradientDescentOptimizer(0.05).minimize(loss)
        if model == "ema":
            average = tf1.train.ExponentialMovingAverage(EMA_DECAY)
            with tf1.control_dependencies([train]):
                train = average.apply(tf1.trainable_variables())
        saver = tf1.train.Saver()
        feed = {}
        if model == "keras_learning_phase":
            import tf_keras

            feed[tf_keras.backend.learning_phase()] = True
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            for step in range(steps):
                sess.run(train, {x: batches[step], target: targets[step], **feed})
            prefix = saver.save(sess, str(directory / f"{model}.ckpt"), global_step=steps)

    twin = tf.Graph()
    with twin.as_default():
        tx = tf1.placeholder(tf.float32, [None, *SHAPE], name="x")
        ty = make(tx, False, [])
        if model == "ema":
            restorer = tf1.train.Saver(tf1.train.ExponentialMovingAverage(EMA_DECAY)
                                       .variables_to_restore())
        else:
            restorer = tf1.train.Saver()
        with tf1.Session(graph=twin) as sess:
            restorer.restore(sess, prefix)
            expected = sess.run(ty, {tx: sample})
            raw = None
            if model == "ema":  # the raw weights, to show the averages differ from them
                tf1.train.Saver().restore(sess, prefix)
                raw = sess.run(ty, {tx: sample}).tolist()
    return {"prefix": prefix, "input": x.name, "output": y.name, "sample": sample.tolist(),
            "expected": expected.tolist(), "raw": raw}


def build_many(directory: Path, models: list[str], untrained: tuple[str, ...] = ()
               ) -> dict[str, Any]:
    """`build` for several models in one process (one TensorFlow start for all); the
    ``untrained`` ones are saved before any step, under ``"<model>@0"``."""
    built = {model: build(directory / model, model) for model in models}
    for model in untrained:
        built[f"{model}@0"] = build(directory / f"{model}@0", model, steps=0)
    return built
