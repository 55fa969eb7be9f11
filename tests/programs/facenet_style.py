"""facenet's softmax training, small.

In the style of davidsandberg/facenet ``src/train_softmax.py``, ``src/facenet.py`` and
``src/models/inception_resnet_v1.py``: image paths, labels and control flags are fed
through placeholders into a ``FIFOQueue`` (``enqueue_op``); preprocessing threads
dequeue, read and decode each file, apply the control flags in conds and
``tf.train.batch_join`` them into batches of ``batch_size`` (a placeholder), which go
through ``tf.identity`` as ``image_batch`` and ``input``. The network is an
inception-resnet-like stem and one ``Block35`` with slim batch norm on ``phase_train``
(decay 0.995, updates forced in place, the moving statistics put in the *trainable*
collection), ``Logits`` = average pool → ``Dropout`` (keep probability a Python float, on
``phase_train``) → ``Bottleneck`` (fully connected + batch norm) giving ``prelogits``;
then ``Logits``, ``embeddings = tf.nn.l2_normalize(prelogits, 1, 1e-10,
name='embeddings')``, a prelogits norm and a center loss added to the regularisation
losses, ``total_loss = tf.add_n``, an exponentially decayed ``learning_rate``
placeholder, moving averages of losses and variables around an Adam step, and
``tf.train.Saver(tf.trainable_variables())``: the model's weights and (through that
collection) its batch-norm statistics, without the Adam slots, the centers or the
global step.

Served: the batch's images (the ``batch_join`` dequeue) → the ``Logits`` and the
``embeddings`` nothing consumes, with ``phase_train`` bound to False.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.contrib_layers import (
    batch_norm,
    conv2d,
    dropout,
    fully_connected,
    l2_regularizer,
)
from tests.programs.running import facts, queue_runners, serve_twin

tf1 = tf.compat.v1

IMAGE_SIZE = 10
CLASSES = 4
EMBEDDING = 6
FIXED_STANDARDIZATION = 8
RANDOM_FLIP = 4


def get_control_flag(control: Any, field: int) -> Any:
    return tf.equal(tf.math.floormod(tf.math.floordiv(control, field), 2), 1)


def create_input_pipeline(input_queue: Any, threads: int, batch_size_placeholder: Any):
    images_and_labels = []
    for _ in range(threads):
        filenames, label, control = input_queue.dequeue()
        images = []
        for filename in tf.unstack(filenames):
            image = tf.io.decode_image(tf.io.read_file(filename), 3)
            image = tf.cond(get_control_flag(control[0], RANDOM_FLIP),
                            lambda image=image: tf.image.random_flip_left_right(image),
                            lambda image=image: tf.identity(image))
            image = tf.cond(get_control_flag(control[0], FIXED_STANDARDIZATION),
                            lambda image=image: (tf.cast(image, tf.float32) - 127.5) / 128.0,
                            lambda image=image: tf.image.per_image_standardization(image))
            image.set_shape((IMAGE_SIZE, IMAGE_SIZE, 3))
            images.append(image)
        images_and_labels.append([images, label])
    return tf1.train.batch_join(images_and_labels, batch_size=batch_size_placeholder,
                                shapes=[(IMAGE_SIZE, IMAGE_SIZE, 3), ()], enqueue_many=True,
                                capacity=4 * threads * 10, allow_smaller_final_batch=True)


def block35(net: Any, conv: Any, scale: float, scope: str) -> Any:
    with tf1.variable_scope(scope):
        with tf1.variable_scope("Branch_0"):
            tower_conv = conv(net, 4, 1, scope="Conv2d_1x1")
        with tf1.variable_scope("Branch_1"):
            tower_conv1 = conv(conv(net, 4, 1, scope="Conv2d_0a_1x1"), 4, 3,
                               scope="Conv2d_0b_3x3")
        mixed = tf.concat([tower_conv, tower_conv1], 3)
        up = conv(mixed, net.shape[3], 1, normalizer_fn=None, activation_fn=None,
                  scope="Conv2d_1x1")
        return tf.nn.relu(net + scale * up)


def inference(images: Any, keep_probability: float, phase_train: Any,
              bottleneck_layer_size: int, weight_decay: float) -> Any:
    batch_norm_params = {"is_training": phase_train, "decay": 0.995, "epsilon": 0.001,
                         "updates_collections": None,
                         "variables_collections": [tf1.GraphKeys.TRAINABLE_VARIABLES]}
    conv = partial(conv2d, activation_fn=tf.nn.relu, normalizer_fn=batch_norm,
                   normalizer_params=batch_norm_params,
                   weights_regularizer=l2_regularizer(weight_decay))
    with tf1.variable_scope("InceptionResnetV1"):
        net = conv(images, 8, 3, stride=2, padding="VALID", scope="Conv2d_1a_3x3")
        net = conv(net, 8, 3, scope="Conv2d_2a_3x3")
        net = block35(net, conv, 0.17, "Repeat/block35_1")
        with tf1.variable_scope("Logits"):
            net = tf.nn.avg_pool2d(net, net.shape[1:3], 1, "VALID", name="AvgPool_1a_8x8")
            net = tf.reshape(net, [-1, int(net.shape[-1])], name="Flatten")
            net = dropout(net, keep_probability, phase_train, scope="Dropout")
        return fully_connected(net, bottleneck_layer_size, normalizer_fn=batch_norm,
                               normalizer_params=batch_norm_params,
                               weights_regularizer=l2_regularizer(weight_decay),
                               scope="Bottleneck")


def center_loss(features: Any, label: Any, alfa: float, nrof_classes: int) -> Any:
    centers = tf1.get_variable("centers", [nrof_classes, features.shape[1]],
                               initializer=tf1.constant_initializer(0), trainable=False)
    label = tf.reshape(label, [-1])
    centers_batch = tf.gather(centers, label)
    diff = (1 - alfa) * (centers_batch - features)
    centers = tf1.scatter_sub(centers, label, diff)
    with tf.control_dependencies([centers]):
        return tf.reduce_mean(tf.square(features - centers_batch))


def train(total_loss: Any, global_step: Any, learning_rate: Any,
          update_gradient_vars: list[Any]) -> Any:
    loss_averages = tf1.train.ExponentialMovingAverage(0.9, name="avg")
    losses = tf1.get_collection("losses")
    loss_averages_op = loss_averages.apply([*losses, total_loss])
    for each in [*losses, total_loss]:
        tf1.summary.scalar(each.op.name + " (raw)", each)
        tf1.summary.scalar(each.op.name, loss_averages.average(each))
    with tf.control_dependencies([loss_averages_op]):
        opt = tf1.train.AdamOptimizer(learning_rate, beta1=0.9, beta2=0.999, epsilon=0.1)
        grads = opt.compute_gradients(total_loss, update_gradient_vars)
    apply_gradient_op = opt.apply_gradients(grads, global_step=global_step)
    for var in tf1.trainable_variables():
        tf1.summary.histogram(var.op.name, var)
    variable_averages = tf1.train.ExponentialMovingAverage(0.9999, global_step)
    variables_averages_op = variable_averages.apply(tf1.trainable_variables())
    with tf.control_dependencies([apply_gradient_op, variables_averages_op]):
        return tf.no_op(name="train")


def _write_images(directory: Path, count: int) -> list[str]:
    rng = np.random.default_rng(40)
    paths = []
    with tf.Graph().as_default(), tf1.Session() as sess:
        pixels = tf1.placeholder(tf.uint8, [IMAGE_SIZE, IMAGE_SIZE, 3])
        encode = tf.io.encode_png(pixels)
        for i in range(count):
            path = directory / f"face_{i:02d}.png"
            path.write_bytes(sess.run(encode, {pixels: rng.integers(
                0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)}))
            paths.append(str(path))
    return paths


def build(directory: Path) -> dict[str, Any]:
    image_list = _write_images(directory, 24)
    label_list = [i % CLASSES for i in range(len(image_list))]
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(40)
        global_step = tf1.Variable(0, trainable=False, name="global_step")
        learning_rate_placeholder = tf1.placeholder(tf.float32, name="learning_rate")
        batch_size_placeholder = tf1.placeholder(tf.int32, name="batch_size")
        phase_train_placeholder = tf1.placeholder(tf.bool, name="phase_train")
        image_paths_placeholder = tf1.placeholder(tf.string, shape=(None, 1),
                                                  name="image_paths")
        labels_placeholder = tf1.placeholder(tf.int32, shape=(None, 1), name="labels")
        control_placeholder = tf1.placeholder(tf.int32, shape=(None, 1), name="control")
        input_queue = tf1.FIFOQueue(capacity=100000, dtypes=[tf.string, tf.int32, tf.int32],
                                    shapes=[(1,), (1,), (1,)])
        enqueue_op = input_queue.enqueue_many(
            [image_paths_placeholder, labels_placeholder, control_placeholder],
            name="enqueue_op")
        image_batch, label_batch = create_input_pipeline(input_queue, 2,
                                                         batch_size_placeholder)
        dequeued = image_batch
        image_batch = tf.identity(image_batch, "image_batch")
        image_batch = tf.identity(image_batch, "input")
        label_batch = tf.identity(label_batch, "label_batch")

        prelogits = inference(image_batch, 0.8, phase_train_placeholder, EMBEDDING, 5e-4)
        logits = fully_connected(prelogits, CLASSES,
                                 weights_regularizer=l2_regularizer(5e-4), scope="Logits")
        embeddings = tf.nn.l2_normalize(prelogits, 1, 1e-10, name="embeddings")
        prelogits_norm = tf.reduce_mean(tf.norm(tf.abs(prelogits) + 1e-4, ord=1.0, axis=1))
        tf1.add_to_collection(tf1.GraphKeys.REGULARIZATION_LOSSES, prelogits_norm * 5e-4)
        prelogits_center_loss = center_loss(prelogits, label_batch, 0.95, CLASSES)
        tf1.add_to_collection(tf1.GraphKeys.REGULARIZATION_LOSSES,
                              prelogits_center_loss * 0.01)
        learning_rate = tf1.train.exponential_decay(learning_rate_placeholder, global_step,
                                                    100, 1.0, staircase=True)
        tf1.summary.scalar("learning_rate", learning_rate)
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=label_batch, logits=logits, name="cross_entropy_per_example")
        cross_entropy_mean = tf.reduce_mean(cross_entropy, name="cross_entropy")
        tf1.add_to_collection("losses", cross_entropy_mean)
        correct = tf.cast(tf.equal(tf.argmax(logits, 1), tf.cast(label_batch, tf.int64)),
                          tf.float32)
        accuracy = tf.reduce_mean(correct)
        regularization_losses = tf1.get_collection(tf1.GraphKeys.REGULARIZATION_LOSSES)
        total_loss = tf.add_n([cross_entropy_mean, *regularization_losses], name="total_loss")
        train_op = train(total_loss, global_step, learning_rate, tf1.global_variables())
        saver = tf1.train.Saver(tf1.trainable_variables(), max_to_keep=3)
        close_input_queue = input_queue.close(cancel_pending_enqueues=True)
        summary_op = tf1.summary.merge_all()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(tf1.local_variables_initializer())
            with queue_runners(sess, closing=(close_input_queue,)):
                control = FIXED_STANDARDIZATION + RANDOM_FLIP
                sess.run(enqueue_op, {
                    image_paths_placeholder: np.array(image_list)[:, None],
                    labels_placeholder: np.array(label_list)[:, None],
                    control_placeholder: np.full((len(image_list), 1), control)})
                feed = {learning_rate_placeholder: 0.01, phase_train_placeholder: True,
                        batch_size_placeholder: 6}
                for _ in range(4):
                    sess.run([total_loss, train_op, global_step, accuracy, summary_op], feed)
                prefix = saver.save(sess, str(directory / "model-20180402.ckpt"),
                                    global_step=sess.run(global_step))
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.float32, [None, IMAGE_SIZE, IMAGE_SIZE, 3], name="input")
        twin_prelogits = inference(served, 1.0, False, EMBEDDING, 0.0)
        twin_logits = fully_connected(twin_prelogits, CLASSES, scope="Logits")
        twin_embeddings = tf.nn.l2_normalize(twin_prelogits, 1, 1e-10, name="embeddings")
    batch = np.random.default_rng(41).normal(size=(3, IMAGE_SIZE, IMAGE_SIZE, 3))
    files = serve_twin(twin, prefix, directory, {"images": (served, batch.astype(np.float32))},
                       {"logits": twin_logits, "embeddings": twin_embeddings})
    return facts(prefix, files, inputs={"images": dequeued.name},
                 outputs={"logits": logits.name, "embeddings": embeddings.name},
                 labels=[label_batch.name, dequeued.op.outputs[1].name],
                 switches={phase_train_placeholder.name: False})
