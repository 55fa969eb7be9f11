"""Training checkpoints of varied style, for the structural suggestions.

Each builder takes ``(directory)``, trains a few steps and saves a Saver
checkpoint, and returns the facts a test checks: ``prefix``, the true serving
``inputs`` (all must be suggested), ``outputs`` (one must be in the top 3) and
``labels`` (what only the loss reads, never a suggested input). The ``tf1_*``
builders run in a child process with v2 behaviour disabled
(`tests.isolated_build`); the ``tf2_*`` ones build in the test process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def _save(sess: Any, directory: Path, name: str) -> str:
    _, tf1 = _tf()
    return tf1.train.Saver().save(sess, str(directory / name), global_step=1)


def _dense(tf1: Any, x: Any, units: int, scope: str, activation: Any = None) -> Any:
    """A dense layer from get_variable (no Keras), as hand-written TF1 models had."""
    with tf1.variable_scope(scope):
        w = tf1.get_variable("kernel", [x.shape[-1], units])
        b = tf1.get_variable("bias", [units], initializer=tf1.zeros_initializer())
        y = tf1.nn.bias_add(tf1.matmul(x, w), b)
        return activation(y) if activation is not None else y


def tf1_bare_mean_clipped(directory: Path) -> dict:
    """An MLP whose loss is a bare top-level ``tf.reduce_mean`` (``Mean:0``), gradients
    clipped by norm, no softmax: the logits are the output. Summaries and a streaming
    accuracy metric read the logits too."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(1)
        x = tf1.placeholder(tf.float32, [None, 6], name="x")
        y = tf1.placeholder(tf.int64, [None], name="y")
        h = _dense(tf1, x, 8, "hidden", tf.nn.relu)
        logits = _dense(tf1, h, 3, "out")
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        _, update_acc = tf1.metrics.accuracy(y, tf.argmax(logits, 1))
        tf1.summary.scalar("xent", loss)
        tf1.summary.histogram("logits", logits)
        opt = tf1.train.GradientDescentOptimizer(0.1)
        grads = [(tf.clip_by_norm(g, 1.0), v) for g, v in opt.compute_gradients(loss)]
        train = opt.apply_gradients(grads)
        with tf1.Session() as sess:
            sess.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
            rng = np.random.default_rng(0)
            sess.run([train, update_acc], {x: rng.normal(size=(4, 6)), y: [0, 1, 2, 0]})
            prefix = _save(sess, directory, "model.ckpt")
    assert loss.name == "Mean:0"
    return {"prefix": prefix, "inputs": ["x:0"], "outputs": [logits.name], "labels": ["y:0"],
            "loss": loss.name}


def tf1_softmax_under_loss_scope(directory: Path) -> dict:
    """The classifier's softmax sits under a ``loss`` variable scope and is read only by a
    hand-written cross entropy; the label is a one-hot placeholder."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(2)
        features = tf1.placeholder(tf.float32, [None, 5], name="features")
        onehot = tf1.placeholder(tf.float32, [None, 4], name="onehot_targets")
        logits = _dense(tf1, _dense(tf1, features, 7, "layer1", tf.tanh), 4, "layer2")
        with tf1.variable_scope("loss"):
            probs = tf.nn.softmax(logits)
            cost = -tf.reduce_mean(tf.reduce_sum(onehot * tf.math.log(probs + 1e-7), 1))
        train = tf1.train.AdamOptimizer(0.01).minimize(
            cost, global_step=tf1.train.get_or_create_global_step())
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            rng = np.random.default_rng(1)
            sess.run(train, {features: rng.normal(size=(3, 5)), onehot: np.eye(4)[:3]})
            prefix = _save(sess, directory, "model.ckpt")
    return {"prefix": prefix, "inputs": ["features:0"], "outputs": [probs.name],
            "labels": ["onehot_targets:0"], "loss": cost.name}


def tf1_dataset_layers_bn(directory: Path) -> dict:
    """Fed by a ``tf.data`` iterator; ``tf.compat.v1.layers`` dense + batch norm in training
    mode (update ops as control dependencies) + dropout; ``tf.compat.v1.losses``."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(3)
        rng = np.random.default_rng(2)
        data = tf.data.Dataset.from_tensor_slices(
            (rng.normal(size=(32, 6)).astype(np.float32), rng.integers(0, 3, 32))
        ).repeat().batch(8)
        iterator = tf1.data.make_initializable_iterator(data)
        images, labels = iterator.get_next()
        h = tf1.layers.dense(images, 16, name="fc1")
        h = tf1.layers.batch_normalization(h, training=True, name="fc1_bn")
        h = tf1.layers.dropout(tf.nn.relu(h), rate=0.3, training=True)
        logits = tf1.layers.dense(h, 3, name="logits")
        predictions = tf.nn.softmax(logits, name="predictions")
        loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
        with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
            train = tf1.train.MomentumOptimizer(0.01, 0.9).minimize(loss)
        with tf1.Session() as sess:
            sess.run([tf1.global_variables_initializer(), iterator.initializer])
            sess.run(train)
            prefix = _save(sess, directory, "model.ckpt")
    return {"prefix": prefix, "inputs": [images.name], "outputs": [predictions.name,
                                                                    logits.name],
            "labels": [labels.name], "loss": loss.name}


def tf1_queue_parse_example(directory: Path) -> dict:
    """Serialized ``tf.train.Example``s through a FIFO queue, decoded by ``parse_example``;
    the loss is an unnamed mean squared error of a regression head."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    rng = np.random.default_rng(3)
    records = [
        tf.train.Example(features=tf.train.Features(feature={
            "x": tf.train.Feature(float_list=tf.train.FloatList(value=rng.normal(size=4))),
            "y": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)])),
        })).SerializeToString()
        for i in range(8)
    ]
    with graph.as_default():
        tf1.set_random_seed(4)
        queue = tf1.FIFOQueue(32, tf.string, shapes=[[]])
        enqueue = queue.enqueue_many([tf.constant(records)])
        serialized = queue.dequeue_many(4)
        parsed = tf1.io.parse_example(serialized, {
            "x": tf1.io.FixedLenFeature([4], tf.float32),
            "y": tf1.io.FixedLenFeature([1], tf.float32),
        })
        hidden = _dense(tf1, parsed["x"], 8, "regressor/hidden", tf.nn.elu)
        score = _dense(tf1, hidden, 1, "regressor/score")
        loss = tf.reduce_mean(tf.square(score - parsed["y"]))
        train = tf1.train.RMSPropOptimizer(0.01).minimize(loss)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(enqueue)
            sess.run(train)
            prefix = _save(sess, directory, "model.ckpt")
    return {"prefix": prefix, "inputs": [parsed["x"].name], "outputs": [score.name],
            "labels": [parsed["y"].name], "loss": loss.name}


def tf1_while_encoder(directory: Path) -> dict:
    """A sentence encoder whose recurrence is a v1 ``tf.while_loop`` (Enter/Exit/Merge/Switch),
    trained to regress a target vector; the served output is the named encoding."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(5)
        ids = tf1.placeholder(tf.int32, [None, None], name="token_ids")
        target = tf1.placeholder(tf.float32, [None, 6], name="target_vectors")
        emb = tf1.get_variable("embedding", [20, 6])
        cell_w = tf1.get_variable("cell/kernel", [12, 6])
        embedded = tf.transpose(tf.nn.embedding_lookup(emb, ids), [1, 0, 2])
        steps = tf.shape(embedded)[0]
        state0 = tf.zeros_like(embedded[0])

        def body(i, state):
            return i + 1, tf.tanh(tf.matmul(tf.concat([embedded[i], state], 1), cell_w))

        _, final = tf1.while_loop(lambda i, _: i < steps, body, [tf.constant(0), state0])
        encoding = tf.identity(final, name="sentence_encoding")
        loss = tf1.losses.mean_squared_error(target, encoding)
        train = tf1.train.AdagradOptimizer(0.1).minimize(loss)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            rng = np.random.default_rng(4)
            sess.run(train, {ids: rng.integers(0, 20, (3, 5)), target: rng.normal(size=(3, 6))})
            prefix = _save(sess, directory, "model.ckpt")
    return {"prefix": prefix, "inputs": ["token_ids:0"], "outputs": [encoding.name],
            "labels": ["target_vectors:0"], "loss": loss.name}


def tf1_keras_fit(directory: Path, resnet: bool = False) -> dict:
    """A legacy-Keras model compiled and fitted in graph mode (``model.fit`` builds the
    training function), saved with a Saver from the Keras session. ``resnet`` makes it a
    ResNet-like block: conv + batch norm (moving-average updates) + a residual add."""
    _, tf1 = _tf()
    keras = tf1.keras
    if resnet:
        inp = keras.Input((8, 8, 3), name="image")
        x = keras.layers.Conv2D(4, 3, padding="same", name="conv1_conv")(inp)
        x = keras.layers.BatchNormalization(name="conv1_bn")(x)
        x = keras.layers.Activation("relu", name="conv1_relu")(x)
        y = keras.layers.Conv2D(4, 3, padding="same", name="block1_conv")(x)
        y = keras.layers.BatchNormalization(name="block1_bn")(y)
        x = keras.layers.Activation("relu")(keras.layers.Add(name="block1_add")([x, y]))
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        out = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
        model = keras.Model(inp, out)
        data = np.random.default_rng(5).normal(size=(8, 8, 8, 3)).astype(np.float32)
    else:
        model = keras.Sequential([
            keras.layers.Dense(12, activation="relu", input_shape=(7,), name="hidden"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(5, activation="softmax", name="classes"),
        ])
        data = np.random.default_rng(5).normal(size=(8, 7)).astype(np.float32)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(data, np.arange(8) % 5, epochs=1, batch_size=4, verbose=0)
    sess = keras.backend.get_session()
    with sess.graph.as_default():
        prefix = _save(sess, directory, "model.ckpt")
    targets = [op.name + ":0" for op in sess.graph.get_operations()
               if op.type == "Placeholder" and op.name.endswith("_target")]
    return {"prefix": prefix, "inputs": [t.name for t in model.inputs],
            "outputs": [t.name for t in model.outputs], "labels": targets}


def tf2_seq2seq(directory: Path) -> dict:
    """TF2 behaviour (resource variables): a teacher-forced seq2seq. The decoder reads its
    own input ids; target ids and a target mask are read only by the loss; the token
    probabilities only by a histogram summary."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(6)
        src = tf1.placeholder(tf.int32, [None, None], name="source_ids")
        dec = tf1.placeholder(tf.int32, [None, None], name="decoder_input_ids")
        tgt = tf1.placeholder(tf.int32, [None, None], name="target_ids")
        mask = tf1.placeholder(tf.float32, [None, None], name="target_mask")
        with tf1.variable_scope("encoder"):
            src_emb = tf1.get_variable("embedding", [30, 8])
            context = tf.reduce_mean(tf.nn.embedding_lookup(src_emb, src), 1)
            context = _dense(tf1, context, 8, "proj", tf.tanh)
        with tf1.variable_scope("decoder"):
            dec_emb = tf1.get_variable("embedding", [30, 8])
            steps = tf.nn.embedding_lookup(dec_emb, dec) + context[:, None, :]
            hidden = tf.nn.relu(tf.tensordot(steps, tf1.get_variable("w", [8, 8]), 1))
            logits = tf.tensordot(hidden, tf1.get_variable("out", [8, 30]), 1)
        # Read only by a summary: still an end of the forward graph, not machinery.
        tf1.summary.histogram("probs", tf.nn.softmax(logits, name="token_probabilities"))
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tgt, logits=logits)
        loss = tf.reduce_sum(xent * mask) / tf.reduce_sum(mask)
        train = tf1.train.AdamOptimizer(0.01).minimize(loss)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            rng = np.random.default_rng(6)
            sess.run(train, {src: rng.integers(0, 30, (2, 4)), dec: rng.integers(0, 30, (2, 3)),
                             tgt: rng.integers(0, 30, (2, 3)), mask: np.ones((2, 3))})
            prefix = _save(sess, directory, "model.ckpt")
    return {"prefix": prefix, "inputs": ["source_ids:0", "decoder_input_ids:0"],
            "outputs": [logits.name, "token_probabilities:0"],
            "labels": ["target_ids:0", "target_mask:0"],
            "loss": loss.name}


def tf2_dataset_functional_while(directory: Path) -> dict:
    """TF2 behaviour: a dict-valued ``tf.data`` iterator, a functional ``While`` (v2 control
    flow) refining the hidden state, sigmoid output and ``tf.compat.v1.losses`` log loss
    with initializer-heavy variables."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(7)
        rng = np.random.default_rng(7)
        data = tf.data.Dataset.from_tensor_slices({
            "signal": rng.normal(size=(16, 5)).astype(np.float32),
            "flag": rng.integers(0, 2, (16, 1)).astype(np.float32),
        }).batch(4)
        batch = tf1.data.make_one_shot_iterator(data).get_next()
        h = _dense(tf1, batch["signal"], 6, "body", tf.nn.relu)
        w = tf1.get_variable("refine", [6, 6], initializer=tf1.glorot_uniform_initializer())
        _, h = tf.while_loop(lambda i, _: i < 2, lambda i, s: (i + 1, tf.tanh(s @ w)),
                             [tf.constant(0), h])
        prob = tf.sigmoid(_dense(tf1, h, 1, "head"), name="probability")
        loss = tf1.losses.log_loss(batch["flag"], prob)
        train = tf1.train.AdamOptimizer(0.01).minimize(loss)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(train)
            prefix = _save(sess, directory, "model.ckpt")
    return {"prefix": prefix, "inputs": [batch["signal"].name], "outputs": [prob.name],
            "labels": [batch["flag"].name], "loss": loss.name}


def tf2_misleading_names(directory: Path) -> dict:
    """Names that lie: the feature placeholder is called ``labels``, the target is called
    ``input_images`` and the logits sit in a ``loss`` scope. Structure must win."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(8)
        feats = tf1.placeholder(tf.float32, [None, 4], name="labels")
        target = tf1.placeholder(tf.float32, [None, 2], name="input_images")
        with tf1.variable_scope("loss"):
            out = _dense(tf1, _dense(tf1, feats, 5, "fc", tf.nn.relu), 2, "logits")
        cost = tf1.losses.sigmoid_cross_entropy(target, out)
        train = tf1.train.GradientDescentOptimizer(0.1).minimize(cost)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(train, {feats: np.ones((2, 4)), target: np.ones((2, 2))})
            prefix = _save(sess, directory, "model.ckpt")
    return {"prefix": prefix, "inputs": ["labels:0"], "outputs": [out.name],
            "labels": ["input_images:0"], "loss": cost.name}


def tf2_adam_weight_decay(directory: Path) -> dict:
    """BERT's AdamWeightDecayOptimizer, as its source wrote it: slots are plain
    non-trainable variables named ``<variable>/adam_m`` and ``<variable>/adam_v``,
    next to a batch-norm layer's moving statistics (model state, not training-only)."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        h = _dense(tf1, x, 4, "bert/dense")
        with tf1.variable_scope("bert/norm"):
            mean = tf1.get_variable("moving_mean", [4], trainable=False,
                                    initializer=tf1.zeros_initializer())
            out = tf.identity(h - mean, name="output")
        loss = tf.reduce_mean(tf.square(out))
        params = tf1.trainable_variables()
        grads = tf.gradients(loss, params)
        updates = []
        for param, grad in zip(params, grads, strict=True):
            name = param.op.name
            m = tf1.get_variable(name + "/adam_m", param.shape, trainable=False,
                                 initializer=tf1.zeros_initializer())
            v = tf1.get_variable(name + "/adam_v", param.shape, trainable=False,
                                 initializer=tf1.zeros_initializer())
            next_m = 0.9 * m + 0.1 * grad
            next_v = 0.999 * v + 0.001 * tf.square(grad)
            step = next_m / (tf.sqrt(next_v) + 1e-6) + 0.01 * param
            updates += [param.assign(param - 0.01 * step), m.assign(next_m), v.assign(next_v)]
        train = tf.group(*updates)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(train, {x: np.ones((2, 3))})
            prefix = _save(sess, directory, "model.ckpt")
    return {"prefix": prefix, "slots": [f"{p.op.name}/adam_{k}" for p in params for k in "mv"],
            "trainable": [p.op.name for p in params], "state": ["bert/norm/moving_mean"]}


def tf1_corpus(directory: Path, names: list[str]) -> dict:
    """Several builders of this module in one child process (a TensorFlow start each is
    the slow part); Keras' session is reset between them."""
    import tf_keras

    facts = {}
    for name in names:
        function, _, variant = name.partition("+")
        tf_keras.backend.clear_session()
        (directory / name).mkdir(parents=True, exist_ok=True)
        kwargs = {"resnet": True} if variant == "resnet" else {}
        facts[name] = globals()[function](directory / name, **kwargs)
    return facts


def tf2_autoencoder(directory: Path) -> dict:
    """No labels at all: a denoising-free autoencoder whose loss compares the
    reconstruction with the input itself; the bottleneck is a named code."""
    tf, tf1 = _tf()
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(9)
        x = tf1.placeholder(tf.float32, [None, 6], name="signal")
        code = tf.identity(_dense(tf1, x, 2, "encoder", tf.tanh), name="code")
        recon = _dense(tf1, code, 6, "decoder")
        loss = tf.reduce_mean(tf.square(recon - x))
        train = tf1.train.AdamOptimizer(0.01).minimize(loss)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(train, {x: np.ones((2, 6))})
            prefix = _save(sess, directory, "model.ckpt")
    return {"prefix": prefix, "inputs": ["signal:0"], "outputs": [recon.name, "code:0"],
            "labels": [], "loss": loss.name}
