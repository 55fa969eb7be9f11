"""The CIFAR-10 queue-runner tutorial, small.

In the style of tensorflow/models ``tutorials/image/cifar10/cifar10.py`` and
``cifar10_input.py``: fixed-length binary records (a label byte, then the image
depth-major) read by a ``FixedLengthRecordReader`` from a ``string_input_producer``,
randomly cropped, flipped and standardised, batched by ``tf.train.shuffle_batch``;
``inference`` is conv1 → pool1 → norm1 → conv2 → norm2 → pool2 → local3 → local4 →
``softmax_linear`` (variables made by ``_variable_with_weight_decay``, whose L2 terms go
to the ``losses`` collection), the total loss is ``tf.add_n`` of that collection, and
``train`` keeps moving averages of the losses and of every trainable variable around a
decayed-learning-rate SGD step. Saved by a Saver over every variable, shadows too (what
``cifar10_train.py``'s ``MonitoredTrainingSession`` scaffold saves).

The original reshapes pool2 with ``[FLAGS.batch_size, -1]``; here with ``[-1, dim]`` (not
``tf.shape``, which folds to the queue's static batch size) so each image is servable
alone. The served input is the shuffle batch's dequeued images (the distortions happen
before the queue), the served output the named ``softmax_linear`` logits; nothing in
the training graph applies a softmax.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, queue_runners, serve_twin

tf1 = tf.compat.v1

RECORD = 10  # stored image side; IMAGE_SIZE is the random crop
IMAGE_SIZE = 8
NUM_CLASSES = 5
BATCH_SIZE = 8
MOVING_AVERAGE_DECAY = 0.9999


def _write_records(path: Path, count: int) -> None:
    rng = np.random.default_rng(10)
    labels = rng.integers(0, NUM_CLASSES, count, dtype=np.uint8)
    images = rng.integers(0, 256, (count, 3, RECORD, RECORD), dtype=np.uint8)
    path.write_bytes(b"".join(bytes([label]) + image.tobytes()
                              for label, image in zip(labels, images, strict=True)))


def distorted_inputs(filenames: list[str], batch_size: int) -> tuple[Any, Any]:
    filename_queue = tf1.train.string_input_producer(filenames)
    reader = tf1.FixedLengthRecordReader(record_bytes=1 + 3 * RECORD * RECORD)
    _, value = reader.read(filename_queue)
    record_bytes = tf1.decode_raw(value, tf.uint8)
    label = tf.cast(tf.strided_slice(record_bytes, [0], [1]), tf.int32)
    depth_major = tf.reshape(tf.strided_slice(record_bytes, [1], [1 + 3 * RECORD * RECORD]),
                             [3, RECORD, RECORD])
    image = tf.cast(tf.transpose(depth_major, [1, 2, 0]), tf.float32)
    distorted = tf1.random_crop(image, [IMAGE_SIZE, IMAGE_SIZE, 3])
    distorted = tf.image.random_flip_left_right(distorted)
    distorted = tf.image.random_brightness(distorted, max_delta=63)
    distorted = tf.image.random_contrast(distorted, lower=0.2, upper=1.8)
    float_image = tf.image.per_image_standardization(distorted)
    float_image.set_shape([IMAGE_SIZE, IMAGE_SIZE, 3])
    label.set_shape([1])
    images, label_batch = tf1.train.shuffle_batch(
        [float_image, label], batch_size=batch_size, num_threads=2,
        capacity=4 * batch_size, min_after_dequeue=batch_size)
    tf1.summary.image("images", images)
    return images, tf.reshape(label_batch, [batch_size])



def _activation_summary(x: Any) -> None:
    tf1.summary.histogram(x.op.name + "/activations", x)
    tf1.summary.scalar(x.op.name + "/sparsity", tf.nn.zero_fraction(x))


def _variable_with_weight_decay(name: str, shape: list[int], stddev: float,
                                wd: float | None) -> Any:
    with tf.device("/cpu:0"):
        var = tf1.get_variable(name, shape,
                               initializer=tf1.truncated_normal_initializer(stddev=stddev))
    if wd is not None:
        weight_decay = tf.multiply(tf.nn.l2_loss(var), wd, name="weight_loss")
        tf1.add_to_collection("losses", weight_decay)
    return var


def _biases(value: float, size: int) -> Any:
    return tf1.get_variable("biases", [size], initializer=tf1.constant_initializer(value))


def inference(images: Any) -> Any:
    with tf1.variable_scope("conv1") as scope:
        kernel = _variable_with_weight_decay("weights", [5, 5, 3, 6], 5e-2, 0.0)
        conv = tf.nn.conv2d(images, kernel, [1, 1, 1, 1], padding="SAME")
        conv1 = tf.nn.relu(tf.nn.bias_add(conv, _biases(0.0, 6)), name=scope.name)
        _activation_summary(conv1)
    pool1 = tf.nn.max_pool2d(conv1, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                             padding="SAME", name="pool1")
    norm1 = tf.nn.lrn(pool1, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75, name="norm1")
    with tf1.variable_scope("conv2") as scope:
        kernel = _variable_with_weight_decay("weights", [5, 5, 6, 6], 5e-2, 0.0)
        conv = tf.nn.conv2d(norm1, kernel, [1, 1, 1, 1], padding="SAME")
        conv2 = tf.nn.relu(tf.nn.bias_add(conv, _biases(0.1, 6)), name=scope.name)
        _activation_summary(conv2)
    norm2 = tf.nn.lrn(conv2, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75, name="norm2")
    pool2 = tf.nn.max_pool2d(norm2, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1],
                             padding="SAME", name="pool2")
    with tf1.variable_scope("local3") as scope:
        dim = int(np.prod(pool2.shape[1:]))
        reshape = tf.reshape(pool2, [-1, dim])
        weights = _variable_with_weight_decay("weights", [dim, 12], 0.04, 0.004)
        local3 = tf.nn.relu(tf.matmul(reshape, weights) + _biases(0.1, 12), name=scope.name)
        _activation_summary(local3)
    with tf1.variable_scope("local4") as scope:
        weights = _variable_with_weight_decay("weights", [12, 8], 0.04, 0.004)
        local4 = tf.nn.relu(tf.matmul(local3, weights) + _biases(0.1, 8), name=scope.name)
        _activation_summary(local4)
    with tf1.variable_scope("softmax_linear") as scope:
        weights = _variable_with_weight_decay("weights", [8, NUM_CLASSES], 1 / 8.0, 0.0)
        softmax_linear = tf.add(tf.matmul(local4, weights), _biases(0.0, NUM_CLASSES),
                                name=scope.name)
        _activation_summary(softmax_linear)
    return softmax_linear


def loss(logits: Any, labels: Any) -> Any:
    labels = tf.cast(labels, tf.int64)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits, name="cross_entropy_per_example")
    tf1.add_to_collection("losses", tf.reduce_mean(cross_entropy, name="cross_entropy"))
    return tf.add_n(tf1.get_collection("losses"), name="total_loss")


def train(total_loss: Any, global_step: Any) -> Any:
    lr = tf1.train.exponential_decay(0.1, global_step, 350, 0.1, staircase=True)
    tf1.summary.scalar("learning_rate", lr)
    loss_averages = tf1.train.ExponentialMovingAverage(0.9, name="avg")
    losses = tf1.get_collection("losses")
    loss_averages_op = loss_averages.apply([*losses, total_loss])
    for each in [*losses, total_loss]:
        tf1.summary.scalar(each.op.name + " (raw)", each)
        tf1.summary.scalar(each.op.name, loss_averages.average(each))
    with tf.control_dependencies([loss_averages_op]):
        opt = tf1.train.GradientDescentOptimizer(lr)
        grads = opt.compute_gradients(total_loss)
    apply_gradient_op = opt.apply_gradients(grads, global_step=global_step)
    for var in tf1.trainable_variables():
        tf1.summary.histogram(var.op.name, var)
    variable_averages = tf1.train.ExponentialMovingAverage(MOVING_AVERAGE_DECAY, global_step)
    variables_averages_op = variable_averages.apply(tf1.trainable_variables())
    with tf.control_dependencies([apply_gradient_op, variables_averages_op]):
        return tf.no_op(name="train")


def build(directory: Path) -> dict[str, Any]:
    data = directory / "data_batch_1.bin"
    _write_records(data, 40)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(1)
        global_step = tf1.train.get_or_create_global_step()
        with tf.device("/cpu:0"):
            images, labels = distorted_inputs([str(data)], BATCH_SIZE)
        logits = inference(images)
        total_loss = loss(logits, labels)
        train_op = train(total_loss, global_step)
        summaries = tf1.summary.merge_all()
        saver = tf1.train.Saver(tf1.global_variables())
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            with queue_runners(sess):
                for _ in range(4):
                    sess.run([train_op, summaries])
                prefix = saver.save(sess, str(directory / "model.ckpt"),
                                    global_step=global_step)
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.float32, [None, IMAGE_SIZE, IMAGE_SIZE, 3])
        answer = inference(served)
    batch = np.random.default_rng(11).normal(size=(3, IMAGE_SIZE, IMAGE_SIZE, 3))
    files = serve_twin(twin, prefix, directory,
                       {"images": (served, batch.astype(np.float32))},
                       {"softmax_linear": answer})
    return facts(prefix, files, inputs={"images": images.name},
                 outputs={"softmax_linear": logits.name},
                 labels=[images.op.outputs[1].name])
