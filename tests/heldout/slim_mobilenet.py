"""Fine-tuning MobileNet v1 the TF-slim way, in the style of tensorflow/models
``research/slim/train_image_classifier.py`` with ``nets/mobilenet_v1.py``
(``mobilenet_v1_base``, ``mobilenet_v1``, ``mobilenet_v1_arg_scope``).

The pipeline is slim's: a ``string_input_producer`` over a TFRecord file, a
``TFRecordReader`` feeding a ``RandomShuffleQueue`` common queue (``parallel_reader``),
``parse_single_example`` of ``image/encoded`` (PNG), ``image/format`` and
``image/class/label`` (``TFExampleDecoder``), a train-time preprocessing (random flip,
resize, scale to [-1, 1]), ``tf.train.batch``, one-hot labels, and the
``prefetch_queue`` whose ``dequeue()`` hands the clone its images. The net is
written the way slim builds it (slim itself does not exist in TF 2): ``Conv2d_0``, then
depthwise (``depthwise_weights``) and pointwise convolutions, each followed by a fused
``BatchNorm`` (``beta``, ``gamma``, ``moving_mean``, ``moving_variance``; the moving
averages updated through ``UPDATE_OPS`` with ``AssignMovingAvg``) and relu6;
``Logits/AvgPool_1a``, ``Logits/Dropout_1b``, ``Logits/Conv2d_1c_1x1`` with biases,
``Logits/SpatialSqueeze``, and ``Predictions`` through contrib's ``softmax`` (reshape to
2-D, softmax, reshape back). ``is_training=True`` and ``dropout_keep_prob=0.8`` are Python
values (no placeholder). Weight decay on the (non-depthwise) convolutions, a label-smoothed
``softmax_cross_entropy``, RMSProp with an exponentially decayed learning rate,
``moving_average_decay`` on (an ``ExponentialMovingAverage`` of the model variables
applied with the update ops), slim's summaries, and ``train_op`` as the identity of the
total loss under the grouped updates; the default Saver saves everything.

Smaller than the original: 16x16 images, three conv blocks, 8-16 channels, and a batch
norm decay of 0.9 (instead of 0.9997) so the moving statistics move in four steps.

The original's ``tf.train.batch`` gives the images a static batch, and contrib's
``softmax`` then bakes it in: ``tf.shape(logits)`` of a fully defined shape is a constant,
so the ``Predictions`` reshape only takes batches of that size. Here the batch keeps an
open dimension (``allow_smaller_final_batch=True``, and the prefetch queue with
``dynamic_pad=True``, a ``PaddingFIFOQueue``), so the training graph serves any batch.

Served: the squeezed logits (an op deliberately named ``SpatialSqueeze``, keyed by that
name) and the ``Predictions`` end point (the reshape back after the softmax, keyed
``probabilities``), from the prefetch queue's images (``images``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.heldout import twin

IMAGE_SIZE = 16
NUM_CLASSES = 5
BATCH_SIZE = 4
WEIGHT_DECAY = 4e-5
BN_DECAY = 0.9
# (kind, kernel, stride, depth), as mobilenet_v1's _CONV_DEFS.
CONV_DEFS = [("conv", 3, 2, 8), ("sep", 3, 1, 16), ("sep", 3, 2, 16)]


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def _model_variable(name: str, shape: list[int], initializer: Any,
                    trainable: bool = True) -> Any:
    _, tf1 = _tf()
    return tf1.get_variable(
        name, shape, initializer=initializer, trainable=trainable,
        collections=[tf1.GraphKeys.GLOBAL_VARIABLES, tf1.GraphKeys.MODEL_VARIABLES])


def _batch_norm(x: Any, is_training: bool) -> Any:
    """slim's fused ``batch_norm`` (center, scale, epsilon 0.001, UPDATE_OPS)."""
    _, tf1 = _tf()
    depth = x.shape[-1]
    with tf1.variable_scope("BatchNorm"):
        beta = _model_variable("beta", [depth], tf1.zeros_initializer())
        gamma = _model_variable("gamma", [depth], tf1.ones_initializer())
        moving_mean = _model_variable("moving_mean", [depth], tf1.zeros_initializer(),
                                      trainable=False)
        moving_variance = _model_variable("moving_variance", [depth],
                                          tf1.ones_initializer(), trainable=False)
        if not is_training:
            out, _, _ = tf1.nn.fused_batch_norm(x, gamma, beta, mean=moving_mean,
                                                variance=moving_variance, epsilon=0.001,
                                                is_training=False)
            return out
        out, mean, variance = tf1.nn.fused_batch_norm(x, gamma, beta, epsilon=0.001,
                                                      is_training=True)
        for variable, value in ((moving_mean, mean), (moving_variance, variance)):
            with tf1.name_scope(None, "AssignMovingAvg", [variable, value]) as scope:
                delta = (variable - value) * (1.0 - BN_DECAY)
                update = tf1.assign_sub(variable, delta, name=scope)
            tf1.add_to_collection(tf1.GraphKeys.UPDATE_OPS, update)
        return out


def _conv(x: Any, depth: int, kernel: int, stride: int, scope: str, is_training: bool,
          depthwise: bool = False) -> Any:
    tf, tf1 = _tf()
    init = tf1.truncated_normal_initializer(stddev=0.09)
    with tf1.variable_scope(scope):
        channels = x.shape[-1]
        if depthwise:
            weights = _model_variable("depthwise_weights", [kernel, kernel, channels, 1],
                                      init)
            net = tf.nn.depthwise_conv2d(x, weights, [1, stride, stride, 1], "SAME")
        else:
            weights = _model_variable("weights", [kernel, kernel, channels, depth], init)
            tf1.add_to_collection(tf1.GraphKeys.REGULARIZATION_LOSSES, tf.multiply(
                WEIGHT_DECAY, tf.nn.l2_loss(weights), name="kernel/Regularizer/l2_regularizer"))
            net = tf1.nn.conv2d(x, weights, [1, stride, stride, 1], "SAME")
        return tf.nn.relu6(_batch_norm(net, is_training))


def _softmax(logits: Any, scope: str) -> Any:
    """contrib.layers.softmax: softmax over the last axis of a 2-D view."""
    tf, tf1 = _tf()
    with tf1.variable_scope(scope):
        num_logits = logits.shape[-1]
        predictions = tf.nn.softmax(tf.reshape(logits, [-1, num_logits]))
        predictions = tf.reshape(predictions, tf.shape(logits))
        predictions.set_shape(logits.shape)
        return predictions


def mobilenet_v1(inputs: Any, is_training: bool,
                 dropout_keep_prob: float = 0.8) -> tuple[Any, dict[str, Any]]:
    tf, tf1 = _tf()
    end_points = {}
    with tf1.variable_scope("MobilenetV1"):
        net = inputs
        for i, (kind, kernel, stride, depth) in enumerate(CONV_DEFS):
            if kind == "conv":
                net = _conv(net, depth, kernel, stride, f"Conv2d_{i}", is_training)
                end_points[f"Conv2d_{i}"] = net
            else:
                net = _conv(net, None, kernel, stride, f"Conv2d_{i}_depthwise", is_training,
                            depthwise=True)
                end_points[f"Conv2d_{i}_depthwise"] = net
                net = _conv(net, depth, 1, 1, f"Conv2d_{i}_pointwise", is_training)
                end_points[f"Conv2d_{i}_pointwise"] = net
        with tf1.variable_scope("Logits"):
            size = net.shape.as_list()[1:3]
            net = tf1.nn.avg_pool2d(net, [1, *size, 1], [1, 2, 2, 1], "VALID",
                                    name="AvgPool_1a")
            end_points["AvgPool_1a"] = net
            net = tf1.layers.dropout(net, rate=1.0 - dropout_keep_prob, training=is_training,
                                     name="Dropout_1b")
            with tf1.variable_scope("Conv2d_1c_1x1"):
                weights = _model_variable("weights", [1, 1, net.shape[-1], NUM_CLASSES],
                                          tf1.truncated_normal_initializer(stddev=0.09))
                biases = _model_variable("biases", [NUM_CLASSES], tf1.zeros_initializer())
                tf1.add_to_collection(tf1.GraphKeys.REGULARIZATION_LOSSES, tf.multiply(
                    WEIGHT_DECAY, tf.nn.l2_loss(weights),
                    name="kernel/Regularizer/l2_regularizer"))
                logits = tf.nn.bias_add(tf1.nn.conv2d(net, weights, [1, 1, 1, 1], "SAME"),
                                        biases)
            logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
        end_points["Logits"] = logits
        end_points["Predictions"] = _softmax(logits, scope="Predictions")
    return logits, end_points


def _png_records(path: Path, rng: np.random.Generator, count: int) -> np.ndarray:
    tf, tf1 = _tf()
    pixels = rng.integers(0, 256, (count, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        image = tf1.placeholder(tf.uint8, [IMAGE_SIZE, IMAGE_SIZE, 3])
        encode = tf.io.encode_png(image)
        encoded = [sess.run(encode, {image: p}) for p in pixels]
    twin.write_records(path, [
        {"image/encoded": twin.bytes_feature(png),
         "image/format": twin.bytes_feature(b"png"),
         "image/class/label": twin.int_feature([rng.integers(0, NUM_CLASSES)])}
        for png in encoded])
    return pixels


def _preprocess(image: Any) -> Any:
    """The train branch of the preprocessing, cut to what a 16x16 image allows."""
    tf, tf1 = _tf()
    image = tf.image.convert_image_dtype(image, dtype=tf.float32)
    image = tf.image.random_flip_left_right(image)
    image = tf1.image.resize_images(image, [IMAGE_SIZE, IMAGE_SIZE])
    return tf.multiply(tf.subtract(image, 0.5), 2.0)


def _provider(path: Path) -> tuple[Any, Any]:
    """slim's ``DatasetDataProvider`` with one reader: file queue, common queue, decoder."""
    tf, tf1 = _tf()
    with tf1.name_scope("parallel_read"):
        filename_queue = tf1.train.string_input_producer([str(path)], shuffle=True,
                                                         capacity=32)
        common_queue = tf1.RandomShuffleQueue(capacity=64, min_after_dequeue=16,
                                              dtypes=[tf.string, tf.string],
                                              name="common_queue")
        key, value = tf1.TFRecordReader().read(filename_queue)
        tf1.train.add_queue_runner(tf1.train.QueueRunner(
            common_queue, [common_queue.enqueue([key, value])]))
        _, serialized = common_queue.dequeue(name="common_queue_Dequeue")
    example = tf1.parse_single_example(serialized, {
        "image/encoded": tf1.FixedLenFeature((), tf.string, default_value=""),
        "image/format": tf1.FixedLenFeature((), tf.string, default_value="png"),
        "image/class/label": tf1.FixedLenFeature([], tf.int64, default_value=0),
    })
    image = tf.image.decode_png(example["image/encoded"], channels=3)
    image.set_shape([IMAGE_SIZE, IMAGE_SIZE, 3])
    return image, example["image/class/label"]


def build(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    _png_records(directory / "train.tfrecord", np.random.default_rng(31), 16)

    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(31)
        global_step = tf1.train.create_global_step()
        image, label = _provider(directory / "train.tfrecord")
        image = _preprocess(image)
        images, labels = tf1.train.batch([image, label], batch_size=BATCH_SIZE,
                                         num_threads=1, capacity=5 * BATCH_SIZE,
                                         allow_smaller_final_batch=True)
        labels = tf1.one_hot(labels, NUM_CLASSES, on_value=1.0, off_value=0.0)
        with tf1.name_scope("prefetch_queue"):
            queue = tf1.PaddingFIFOQueue(capacity=2, dtypes=[images.dtype, labels.dtype],
                                  shapes=[images.shape, labels.shape])
            tf1.train.add_queue_runner(tf1.train.QueueRunner(
                queue, [queue.enqueue([images, labels])]))
        images, labels = queue.dequeue()
        logits, end_points = mobilenet_v1(images, is_training=True)
        tf1.losses.softmax_cross_entropy(labels, logits, label_smoothing=0.1, weights=1.0)
        for end_point, x in end_points.items():
            tf1.summary.histogram("activations/" + end_point, x)
            tf1.summary.scalar("sparsity/" + end_point, tf.nn.zero_fraction(x))
        clone_loss = tf.add_n(tf1.losses.get_losses(), name="clone_loss")
        regularization_loss = tf.add_n(tf1.losses.get_regularization_losses(),
                                       name="regularization_loss")
        total_loss = tf.add_n([clone_loss, regularization_loss], name="total_loss")
        update_ops = list(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS))
        variable_averages = tf1.train.ExponentialMovingAverage(0.9999, global_step)
        update_ops.append(variable_averages.apply(tf1.get_collection(
            tf1.GraphKeys.MODEL_VARIABLES)))
        learning_rate = tf1.train.exponential_decay(
            0.01, global_step, 10, 0.94, staircase=True,
            name="exponential_decay_learning_rate")
        optimizer = tf1.train.RMSPropOptimizer(learning_rate, decay=0.9, momentum=0.9,
                                               epsilon=1.0)
        gradients = optimizer.compute_gradients(total_loss)
        update_ops.append(optimizer.apply_gradients(gradients, global_step=global_step))
        tf1.summary.scalar("learning_rate", learning_rate)
        tf1.summary.scalar("total_loss", total_loss)
        with tf.control_dependencies([tf.group(*update_ops)]):
            train_tensor = tf.identity(total_loss, name="train_op")
        summary_op = tf1.summary.merge_all()
        with tf1.Session() as sess:
            sess.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
            coord = tf1.train.Coordinator()
            threads = tf1.train.start_queue_runners(sess, coord=coord)
            for _ in range(4):
                sess.run([train_tensor, summary_op])
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=10)
            moved = sess.run("MobilenetV1/Conv2d_0/BatchNorm/moving_mean:0")
            assert np.abs(moved).max() > 0
            prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"),
                                            global_step=global_step)
    probabilities = end_points["Predictions"]

    rng = np.random.default_rng(32)
    sample = rng.uniform(-1, 1, (4, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    serving = tf.Graph()
    with serving.as_default():
        inputs = tf1.placeholder(tf.float32, [None, IMAGE_SIZE, IMAGE_SIZE, 3], name="input")
        twin_logits, twin_points = mobilenet_v1(inputs, is_training=False)
    got = twin.answer(serving, prefix, {"SpatialSqueeze": twin_logits,
                                        "probabilities": twin_points["Predictions"]},
                      {inputs: sample})
    return twin.facts(directory, prefix, inputs={"images": images.name},
                      outputs={"SpatialSqueeze": logits.name,
                               "probabilities": probabilities.name},
                      labels=[labels.name], samples={"images": sample}, expected=got)
