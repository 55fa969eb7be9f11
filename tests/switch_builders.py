"""Training programs whose training mode is a placeholder, each with its inference twin.

Written the way TF1 programs fed their training mode (slim's ``batch_norm`` and
``dropout`` with ``is_training``, facenet's ``phase_train``, ``learning_rate`` and
``batch_size`` placeholders, "Deep MNIST for experts"'s ``keep_prob``): each builder
trains its program a few steps with the switches fed their training values, saves one
checkpoint, then builds the **same model code** with the switches as Python values
(``is_training=False``, ``keep_prob=1.0``), restores that checkpoint and records the
twin's answers on `SAMPLE`: what a served model must answer.

`build_many` runs the TF1-behaviour programs in one child process
(``tests/isolated_build.py``: ref variables, v1 ``cond`` with ``Switch``/``Merge``,
queues; ``TF_USE_LEGACY_KERAS=1`` for ``tf.compat.v1.layers``). `functional_if` is
TF2 behaviour (``tf.cond`` builds ``If``) and runs in the test process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests.checkpoints import save_initialized

IMAGE = (6, 6, 2)  # one example of the image programs
FEATURES = 6  # one example of the vector programs
CLASSES = 3
DECAY = 0.5  # moving statistics leave their initial 0/1 in a few steps
PROGRAMS = ("slim_style", "with_default", "inverted", "keep_prob", "rate", "learning_rate",
            "dataset_batch_size", "queue_batch_size")


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def sample(shape: tuple[int, ...], n: int = 5) -> np.ndarray:
    """The examples twins and exports answer (the same in every process)."""
    return np.random.default_rng(23).normal(size=(n, *shape)).astype(np.float32)


def _training_data(shape: tuple[int, ...], n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return (rng.normal(size=(n, *shape)).astype(np.float32),
            rng.integers(0, CLASSES, n).astype(np.int64))


def _cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """slim's ``utils.smart_cond``: a Python bool picks its branch, a tensor builds a cond."""
    tf, _ = _tf()
    if isinstance(pred, bool):
        return true_fn() if pred else false_fn()
    return tf.cond(pred, true_fn, false_fn)


def _dense(h: Any, units: int, name: str) -> Any:
    tf, tf1 = _tf()
    with tf1.variable_scope(name):
        w = tf1.get_variable("weights", [int(h.shape[-1]), units])
        b = tf1.get_variable("biases", [units], initializer=tf1.constant_initializer(0.1))
        return tf.matmul(h, w) + b


def _conv(x: Any, filters: int, name: str) -> Any:
    tf, tf1 = _tf()
    with tf1.variable_scope(name):
        k = tf1.get_variable("weights", [3, 3, int(x.shape[-1]), filters])
        return tf.nn.conv2d(x, k, [1, 1, 1, 1], "SAME")


def _flat(h: Any) -> Any:
    tf, _ = _tf()
    return tf.reshape(h, [-1, int(np.prod(h.shape[1:]))])


def _tf1_dropout(x: Any, keep_prob: Any) -> Any:
    """``tf.nn.dropout(x, keep_prob)`` as TF 1.x wrote it: ``x / keep_prob *
    floor(keep_prob + random_uniform(shape(x)))``."""
    tf, tf1 = _tf()
    with tf1.name_scope("dropout"):
        random = keep_prob + tf1.random_uniform(tf.shape(x), dtype=x.dtype)
        out = tf.math.divide(x, keep_prob) * tf.floor(random)
        out.set_shape(x.shape)  # as TF 1.x did: keep_prob may have no shape
        return out


def _moving(channels: int) -> tuple[Any, Any, Any, Any]:
    _, tf1 = _tf()
    beta = tf1.get_variable("beta", [channels], initializer=tf1.zeros_initializer())
    gamma = tf1.get_variable("gamma", [channels], initializer=tf1.ones_initializer())
    mean = tf1.get_variable("moving_mean", [channels], trainable=False,
                            initializer=tf1.zeros_initializer())
    variance = tf1.get_variable("moving_variance", [channels], trainable=False,
                                initializer=tf1.ones_initializer())
    return beta, gamma, mean, variance


def _assign_moving_average(variable: Any, value: Any) -> Any:
    """``moving_averages.assign_moving_average(zero_debias=False)``."""
    _, tf1 = _tf()
    return tf1.assign_sub(variable, (variable - value) * (1 - DECAY), name="AssignMovingAvg")


def slim_batch_norm(x: Any, is_training: Any, scope: str) -> Any:
    """slim's ``batch_norm(is_training=..., updates_collections=None)``: on 4-D input the
    fused form (a cond between training and inference ``fused_batch_norm``, then a cond
    forcing the moving-average updates), else moments outside the cond that picks them
    or the moving statistics (the updates forced inside its training branch)."""
    tf, tf1 = _tf()
    with tf1.variable_scope(scope):
        beta, gamma, moving_mean, moving_variance = _moving(int(x.shape[-1]))
        if len(x.shape) == 4:
            outputs, mean, variance = _cond(
                is_training,
                lambda: tf1.nn.fused_batch_norm(x, gamma, beta, epsilon=1e-3),
                lambda: tf1.nn.fused_batch_norm(x, gamma, beta, moving_mean, moving_variance,
                                                epsilon=1e-3, is_training=False))

            def force_updates():
                with tf1.control_dependencies([_assign_moving_average(moving_mean, mean),
                                               _assign_moving_average(moving_variance,
                                                                      variance)]):
                    return tf.identity(outputs)

            return _cond(is_training, force_updates, lambda: outputs) \
                if is_training is not False else outputs
        if is_training is False:
            mean, variance = moving_mean, moving_variance
        else:
            batch_mean, batch_variance = tf.nn.moments(x, [0])

            def force_updates():
                with tf1.control_dependencies([
                        _assign_moving_average(moving_mean, batch_mean),
                        _assign_moving_average(moving_variance, batch_variance)]):
                    return tf.identity(batch_mean), tf.identity(batch_variance)

            mean, variance = _cond(is_training, force_updates,
                                   lambda: (tf.identity(moving_mean),
                                            tf.identity(moving_variance)))
        return tf.nn.batch_normalization(x, mean, variance, beta, gamma, 1e-3)


def slim_dropout(x: Any, keep_prob: float, is_training: Any) -> Any:
    """slim's ``dropout(x, keep_prob, is_training=...)``: TF 1.x dropout in a cond."""
    tf, _ = _tf()
    return _cond(is_training, lambda: _tf1_dropout(x, keep_prob), lambda: tf.identity(x))


def r2rt_batch_norm(x: Any, is_training: Any, scope: str) -> Any:
    """The batch norm of the much-copied 2016 tutorial: ``tf.assign(pop_mean, pop_mean *
    decay + batch_mean * (1 - decay))`` in the training branch of a cond. The
    batch-norm rewrite does not recognise that update, so this site is blocked."""
    tf, tf1 = _tf()
    with tf1.variable_scope(scope):
        beta, gamma, pop_mean, pop_var = _moving(int(x.shape[-1]))

        def inference():
            return tf.nn.batch_normalization(x, pop_mean, pop_var, beta, gamma, 1e-3)

        def training():
            batch_mean, batch_var = tf.nn.moments(x, [0])
            train_mean = tf1.assign(pop_mean, pop_mean * DECAY + batch_mean * (1 - DECAY))
            train_var = tf1.assign(pop_var, pop_var * DECAY + batch_var * (1 - DECAY))
            with tf1.control_dependencies([train_mean, train_var]):
                return tf.nn.batch_normalization(x, batch_mean, batch_var, beta, gamma, 1e-3)

        return _cond(is_training, training, inference)


# ---------------------------------------------------------------- the programs' models


def slim_style_model(x: Any, switches: dict[str, Any]) -> Any:
    """A small slim net: conv + fused batch norm, dense + batch norm, dropout, logits."""
    tf, _ = _tf()
    is_training = switches["is_training"]
    h = tf.nn.relu(slim_batch_norm(_conv(x, 4, "conv1"), is_training, "conv1/BatchNorm"))
    h = _dense(_flat(h), 8, "fc1")
    h = tf.nn.relu(slim_batch_norm(h, is_training, "fc1/BatchNorm"))
    h = slim_dropout(h, 0.5, is_training)
    return _dense(h, CLASSES, "logits")


def with_default_model(x: Any, switches: dict[str, Any]) -> Any:
    """The tutorial's batch norm and TF 1.13's ``tf.nn.dropout(rate=)``, each in a cond on
    a flag that defaults to True (the graph was saved in training mode)."""
    tf, _ = _tf()
    phase = switches["phase"]
    h = _dense(x, 8, "hidden")
    h = tf.nn.relu(r2rt_batch_norm(h, phase, "bn"))
    h = _cond(phase, lambda: tf.nn.dropout(h, rate=0.5), lambda: h)
    return _dense(h, CLASSES, "logits")


def inverted_model(x: Any, switches: dict[str, Any]) -> Any:
    """A flag that says *not* training: the batch statistics sit in the false branch of
    one cond, and dropout in a cond on ``logical_not(flag)``; the updates are collected."""
    tf, tf1 = _tf()
    deterministic = switches["deterministic"]
    h = _dense(x, 8, "hidden")
    with tf1.variable_scope("bn"):
        beta, gamma, moving_mean, moving_variance = _moving(8)
        if deterministic is True:
            mean, variance = moving_mean, moving_variance
        else:
            batch_mean, batch_var = tf.nn.moments(h, [0])
            tf1.add_to_collection(tf1.GraphKeys.UPDATE_OPS,
                                  _assign_moving_average(moving_mean, batch_mean))
            tf1.add_to_collection(tf1.GraphKeys.UPDATE_OPS,
                                  _assign_moving_average(moving_variance, batch_var))
            mean, variance = tf.cond(deterministic,
                                     lambda: (tf.identity(moving_mean),
                                              tf.identity(moving_variance)),
                                     lambda: (batch_mean, batch_var))
        h = tf.nn.relu(tf.nn.batch_normalization(h, mean, variance, beta, gamma, 1e-3))
    if deterministic is not True:
        training = tf.logical_not(deterministic)
        h = tf.cond(training, lambda: tf.nn.dropout(h, rate=0.5), lambda: tf.identity(h))
    return _dense(h, CLASSES, "logits")


def keep_prob_model(x: Any, switches: dict[str, Any]) -> Any:
    """"Deep MNIST for experts", small: conv, max pool, dense, dropout(keep_prob), dense."""
    tf, _ = _tf()
    h = tf.nn.max_pool2d(tf.nn.relu(_conv(x, 4, "conv1")), 2, 2, "SAME")
    h = tf.nn.relu(_dense(_flat(h), 8, "fc1"))
    h = _tf1_dropout(h, switches["keep_prob"])
    return _dense(h, CLASSES, "fc2")


def rate_model(x: Any, switches: dict[str, Any]) -> Any:
    """A dropout rate fed to ``tf.compat.v1.layers.dropout(rate=)`` and ``tf.nn.dropout``."""
    tf, tf1 = _tf()
    rate = switches["drop_rate"]
    h = tf.nn.relu(_dense(x, 8, "hidden"))
    h = tf1.layers.dropout(h, rate=rate, training=True, name="drop1")
    h = tf.nn.relu(_dense(h, 8, "hidden2"))
    h = tf.nn.dropout(h, rate=rate)
    return _dense(h, CLASSES, "logits")


def plain_model(x: Any, switches: dict[str, Any]) -> Any:
    tf, _ = _tf()
    return _dense(tf.nn.relu(_dense(x, 8, "hidden")), CLASSES, "logits")


# ---------------------------------------------------------------- building and training


def _finish(directory: Path, graph: Any, runs: list[tuple[Any, dict]], model: Callable,
            shape: tuple[int, ...], inference: dict[str, Any], facts: dict[str, Any]
            ) -> dict[str, Any]:
    """Train and save ``graph``; build ``model`` with the ``inference`` switches, restore
    the checkpoint and record its answers on `sample`."""
    tf, tf1 = _tf()
    prefix = save_initialized(graph, directory / "model.ckpt", *runs)
    twin = tf.Graph()
    with twin.as_default():
        x = tf1.placeholder(tf.float32, [None, *shape], name="x")
        probs = tf.nn.softmax(model(x, inference))
        with tf1.Session(graph=twin) as sess:
            tf1.train.Saver().restore(sess, prefix)
            expected = sess.run(probs, {x: sample(shape)})
    return {"prefix": prefix, "expected": expected.tolist(), "shape": list(shape), **facts}


def _classifier(graph: Any, model: Callable, x: Any, switches: dict[str, Any], labels: Any,
                optimizer: Any = None) -> tuple[Any, Any]:
    """Probabilities and the train op of ``model`` on ``x``, updates run with each step."""
    tf, tf1 = _tf()
    with graph.as_default():
        logits = model(x, switches)
        probs = tf.nn.softmax(logits, name="probabilities")
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits), name="loss")
        step = tf1.train.get_or_create_global_step()
        with tf1.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
            train = (optimizer or tf1.train.AdamOptimizer(0.05)).minimize(loss, global_step=step)
    return probs, train


def _placeholder_program(directory: Path, model: Callable, shape: tuple[int, ...],
                         switches: Callable[[], dict[str, Any]], training: dict[str, Any],
                         inference: dict[str, Any]) -> dict[str, Any]:
    """A program fed by placeholders: the input, the labels, and its switches, fed
    their ``training`` values (by name) at every step."""
    tf, tf1 = _tf()
    xs, ys = _training_data(shape)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(3)
        x = tf1.placeholder(tf.float32, [None, *shape], name="input")
        labels = tf1.placeholder(tf.int64, [None], name="labels")
        made = switches()
    probs, train = _classifier(graph, model, x, made, labels)
    feeds = {x: xs, labels: ys, **{made[k]: v for k, v in training.items()}}
    return _finish(directory, graph, [(train, feeds)] * 3, model, shape, inference,
                   {"input": x.name, "output": probs.name,
                    "switches": {k: v.name for k, v in made.items()}})


def slim_style(directory: Path) -> dict[str, Any]:
    """slim's ``is_training`` as facenet declares ``phase_train``: a bool placeholder
    without a shape, fed True at every training step."""
    tf, tf1 = _tf()
    return _placeholder_program(
        directory, slim_style_model, IMAGE,
        lambda: {"is_training": tf1.placeholder(tf.bool, name="is_training")},
        {"is_training": True}, {"is_training": False})


def with_default(directory: Path) -> dict[str, Any]:
    _, tf1 = _tf()
    return _placeholder_program(
        directory, with_default_model, (FEATURES,),
        lambda: {"phase": tf1.placeholder_with_default(True, [], name="phase")},
        {}, {"phase": False})


def inverted(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    return _placeholder_program(
        directory, inverted_model, (FEATURES,),
        lambda: {"deterministic": tf1.placeholder(tf.bool, [], name="deterministic")},
        {"deterministic": False}, {"deterministic": True})


def keep_prob(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    return _placeholder_program(
        directory, keep_prob_model, (8, 8, 1),
        lambda: {"keep_prob": tf1.placeholder(tf.float32, name="keep_prob")},
        {"keep_prob": 0.5}, {"keep_prob": 1.0})


def rate(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    return _placeholder_program(
        directory, rate_model, (FEATURES,),
        lambda: {"drop_rate": tf1.placeholder(tf.float32, [], name="drop_rate")},
        {"drop_rate": 0.4}, {"drop_rate": 0.0})


def learning_rate(directory: Path) -> dict[str, Any]:
    """facenet's schedule: ``exponential_decay(learning_rate_placeholder, global_step)``,
    summarised, handed to the optimizer."""
    tf, tf1 = _tf()
    xs, ys = _training_data((FEATURES,))
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, FEATURES], name="input")
        labels = tf1.placeholder(tf.int64, [None], name="labels")
        lr_placeholder = tf1.placeholder(tf.float32, name="learning_rate")
        step = tf1.train.get_or_create_global_step()
        lr = tf1.train.exponential_decay(lr_placeholder, step, 10, 0.9, staircase=True)
        tf1.summary.scalar("learning_rate", lr)
        optimizer = tf1.train.MomentumOptimizer(lr, 0.9)
    probs, train = _classifier(graph, plain_model, x, {}, labels, optimizer)
    return _finish(directory, graph, [(train, {x: xs, labels: ys, lr_placeholder: 0.1})] * 3,
                   plain_model, (FEATURES,), {},
                   {"input": x.name, "output": probs.name,
                    "switches": {"learning_rate": lr_placeholder.name}})


def dataset_batch_size(directory: Path) -> dict[str, Any]:
    """A ``tf.data`` pipeline batched by a ``batch_size`` placeholder (an initializable
    iterator, initialised with it)."""
    tf, tf1 = _tf()
    xs, ys = _training_data((FEATURES,))
    graph = tf.Graph()
    with graph.as_default():
        batch_size = tf1.placeholder(tf.int64, [], name="batch_size")
        dataset = tf.data.Dataset.from_tensor_slices((xs, ys)).repeat().batch(batch_size)
        iterator = tf1.data.make_initializable_iterator(dataset)
        features, labels = iterator.get_next()
    probs, train = _classifier(graph, plain_model, features, {}, labels)
    return _finish(directory, graph,
                   [(iterator.initializer, {batch_size: 4})] + [(train, {})] * 3,
                   plain_model, (FEATURES,), {},
                   {"input": features.name, "output": probs.name,
                    "switches": {"batch_size": batch_size.name}})


def queue_batch_size(directory: Path) -> dict[str, Any]:
    """facenet's pipeline: examples fed into a queue by placeholders (``enqueue_many``),
    dequeued ``batch_size_placeholder`` at a time (``batch_join``'s dequeue_up_to)."""
    tf, tf1 = _tf()
    xs, ys = _training_data((FEATURES,))
    graph = tf.Graph()
    with graph.as_default():
        examples = tf1.placeholder(tf.float32, [None, FEATURES], name="examples")
        example_labels = tf1.placeholder(tf.int64, [None], name="example_labels")
        batch_size = tf1.placeholder(tf.int32, name="batch_size")
        queue = tf1.FIFOQueue(64, [tf.float32, tf.int64], shapes=[[FEATURES], []])
        enqueue = queue.enqueue_many([examples, example_labels], name="enqueue_op")
        features, labels = queue.dequeue_up_to(batch_size)
    probs, train = _classifier(graph, plain_model, features, {}, labels)
    runs = [(enqueue, {examples: xs, example_labels: ys})] + \
        [(train, {batch_size: 4})] * 2
    return _finish(directory, graph, runs, plain_model, (FEATURES,), {},
                   {"input": features.name, "output": probs.name,
                    "switches": {"batch_size": batch_size.name, "examples": examples.name,
                                 "example_labels": example_labels.name}})


def build_many(directory: Path, programs: list[str]) -> dict[str, Any]:
    """Every named program, each in its own folder (one TensorFlow start for all)."""
    return {name: globals()[name](directory / name) for name in programs}


# ---------------------------------------------------------------- TF2 behaviour: If


def functional_if_model(x: Any, switches: dict[str, Any]) -> Any:
    """Fused batch norm (updates in its training branch) and dropout, each in a
    ``tf.cond`` that TF2 behaviour builds as a functional ``If``."""
    tf, tf1 = _tf()
    training = switches["training"]
    h = _conv(x, 4, "conv")
    with tf1.variable_scope("bn"):
        beta, gamma, moving_mean, moving_variance = _moving(4)

        def train():
            y, mean, variance = tf1.nn.fused_batch_norm(h, gamma, beta, epsilon=1e-3)
            with tf1.control_dependencies([
                    moving_mean.assign_sub((moving_mean - mean) * (1 - DECAY)),
                    moving_variance.assign_sub((moving_variance - variance) * (1 - DECAY))]):
                return tf.identity(y)

        def infer():
            return tf1.nn.fused_batch_norm(h, gamma, beta, moving_mean, moving_variance,
                                           epsilon=1e-3, is_training=False)[0]

        h = tf.nn.relu(_cond(training, train, infer))
    h = tf.nn.relu(_dense(_flat(h), 8, "fc"))
    h = _cond(training, lambda: tf.nn.dropout(h, rate=0.5), lambda: h)
    return _dense(h, CLASSES, "logits")


def functional_if(directory: Path) -> dict[str, Any]:
    """TF2 behaviour (resource variables, ``If``), built in the calling process; the
    flag defaults to True, as a graph saved in training mode has it."""
    _, tf1 = _tf()
    return _placeholder_program(
        directory, functional_if_model, IMAGE,
        lambda: {"training": tf1.placeholder_with_default(True, [], name="training")},
        {}, {"training": False})
