"""pix2pix training, in the style of affinelayer/pix2pix-tensorflow ``pix2pix.py``
(``load_examples``, ``create_generator``, ``create_model``, ``main``'s summaries and
Saver).

The pipeline is the original's: a ``string_input_producer`` over the PNG paths, a
``WholeFileReader``, ``decode_png``, ``convert_image_dtype``, the 3-channel assertion,
the side-by-side A|B image split in two and moved to [-1, 1], the random-flip-and-resize
``transform`` (its random crop offset drawn even when no crop is needed), and
``tf.train.batch`` of paths, inputs and targets. The model: a U-Net generator
(``encoder_1`` conv, ``encoder_2``… lrelu/conv/batch norm, ``decoder_*`` relu/deconv/batch
norm with skip concatenations and ``tf.nn.dropout(keep_prob=0.5)`` in the innermost
decoders, ``decoder_1`` to a tanh image), a PatchGAN discriminator applied twice with
shared variables (``real_discriminator``/``fake_discriminator``), the GAN and L1 losses,
two Adam optimizers (the generator's under a control dependency on the discriminator's
step), an ``ExponentialMovingAverage`` of the three losses, the global step bumped by
hand, image/scalar/histogram summaries, and ``Saver(max_to_keep=1)``. Batch norm is
``tf.layers.batch_normalization(training=True, momentum=0.1)`` and dropout a Python
keep probability, as in the original (no switch placeholders).

Smaller than the original: 32x32 crops, ``ngf = ndf = 4``, five encoder layers.
Different from the original: its train op never runs the batch-norm moving-average
updates (nothing groups ``UPDATE_OPS``), so its moving statistics stay 0/1; here they
are grouped into the train op so the statistics move. The original's ``tf.train.batch``
gives a static batch, which ``conv2d_transpose`` then bakes into its output shape
(``tf.shape`` of a fully defined shape is a constant); ``allow_smaller_final_batch=True``
keeps it open here. The progress-image PNG encoding (``display_fetches``) is left out.
pix2pix's own test mode keeps batch statistics and dropout on; a served model cannot (an
example's answer would depend on its batch and on chance), so the twin uses the moving
statistics and no dropout.

Served: the generator's image (``predictions``) from the batched input images
(``images``); the targets are the label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.heldout import twin

CROP_SIZE = 32
NGF = 4
NDF = 4
EPS = 1e-12
BATCH_SIZE = 4


def _tf():
    import tensorflow as tf

    return tf, tf.compat.v1


def preprocess(image: Any) -> Any:
    _, tf1 = _tf()
    with tf1.name_scope("preprocess"):
        return image * 2 - 1


def deprocess(image: Any) -> Any:
    _, tf1 = _tf()
    with tf1.name_scope("deprocess"):
        return (image + 1) / 2


def discrim_conv(batch_input: Any, out_channels: int, stride: int) -> Any:
    tf, tf1 = _tf()
    padded = tf.pad(batch_input, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="CONSTANT")
    return tf1.layers.conv2d(padded, out_channels, kernel_size=4, strides=(stride, stride),
                             padding="valid",
                             kernel_initializer=tf1.random_normal_initializer(0, 0.02))


def gen_conv(batch_input: Any, out_channels: int) -> Any:
    _, tf1 = _tf()
    return tf1.layers.conv2d(batch_input, out_channels, kernel_size=4, strides=(2, 2),
                             padding="same",
                             kernel_initializer=tf1.random_normal_initializer(0, 0.02))


def gen_deconv(batch_input: Any, out_channels: int) -> Any:
    _, tf1 = _tf()
    return tf1.layers.conv2d_transpose(
        batch_input, out_channels, kernel_size=4, strides=(2, 2), padding="same",
        kernel_initializer=tf1.random_normal_initializer(0, 0.02))


def lrelu(x: Any, a: float) -> Any:
    tf, tf1 = _tf()
    with tf1.name_scope("lrelu"):
        x = tf.identity(x)
        return (0.5 * (1 + a)) * x + (0.5 * (1 - a)) * tf.abs(x)


def batchnorm(inputs: Any, training: bool) -> Any:
    _, tf1 = _tf()
    return tf1.layers.batch_normalization(
        inputs, axis=3, epsilon=1e-5, momentum=0.1, training=training,
        gamma_initializer=tf1.random_normal_initializer(1.0, 0.02))


def create_generator(generator_inputs: Any, out_channels: int, training: bool) -> Any:
    tf, tf1 = _tf()
    layers = []
    with tf1.variable_scope("encoder_1"):
        layers.append(gen_conv(generator_inputs, NGF))
    for channels in [NGF * 2, NGF * 4, NGF * 4, NGF * 4]:
        with tf1.variable_scope(f"encoder_{len(layers) + 1}"):
            convolved = gen_conv(lrelu(layers[-1], 0.2), channels)
            layers.append(batchnorm(convolved, training))
    decoder_specs = [(NGF * 4, 0.5), (NGF * 4, 0.5), (NGF * 2, 0.0), (NGF, 0.0)]
    num_encoder_layers = len(layers)
    for decoder_layer, (channels, dropout) in enumerate(decoder_specs):
        skip_layer = num_encoder_layers - decoder_layer - 1
        with tf1.variable_scope(f"decoder_{skip_layer + 1}"):
            if decoder_layer == 0:
                net = layers[-1]
            else:
                net = tf.concat([layers[-1], layers[skip_layer]], axis=3)
            output = batchnorm(gen_deconv(tf.nn.relu(net), channels), training)
            if dropout > 0.0 and training:
                output = tf1.nn.dropout(output, keep_prob=1 - dropout)
            layers.append(output)
    with tf1.variable_scope("decoder_1"):
        net = tf.concat([layers[-1], layers[0]], axis=3)
        layers.append(tf.tanh(gen_deconv(tf.nn.relu(net), out_channels)))
    return layers[-1]


def create_discriminator(discrim_inputs: Any, discrim_targets: Any) -> Any:
    tf, tf1 = _tf()
    n_layers = 3
    layers = []
    net = tf.concat([discrim_inputs, discrim_targets], axis=3)
    with tf1.variable_scope("layer_1"):
        layers.append(lrelu(discrim_conv(net, NDF, stride=2), 0.2))
    for i in range(n_layers):
        with tf1.variable_scope(f"layer_{len(layers) + 1}"):
            channels = NDF * min(2 ** (i + 1), 8)
            stride = 1 if i == n_layers - 1 else 2
            convolved = discrim_conv(layers[-1], channels, stride=stride)
            layers.append(lrelu(batchnorm(convolved, True), 0.2))
    with tf1.variable_scope(f"layer_{len(layers) + 1}"):
        layers.append(tf.sigmoid(discrim_conv(layers[-1], 1, stride=1)))
    return layers[-1]


def create_model(inputs: Any, targets: Any) -> dict[str, Any]:
    tf, tf1 = _tf()
    with tf1.variable_scope("generator"):
        outputs = create_generator(inputs, int(targets.shape[-1]), training=True)
    with tf1.name_scope("real_discriminator"), tf1.variable_scope("discriminator"):
        predict_real = create_discriminator(inputs, targets)
    with tf1.name_scope("fake_discriminator"), tf1.variable_scope("discriminator",
                                                                  reuse=True):
        predict_fake = create_discriminator(inputs, outputs)
    with tf1.name_scope("discriminator_loss"):
        discrim_loss = tf.reduce_mean(-(tf1.log(predict_real + EPS)
                                        + tf1.log(1 - predict_fake + EPS)))
    with tf1.name_scope("generator_loss"):
        gen_loss_gan = tf.reduce_mean(-tf1.log(predict_fake + EPS))
        gen_loss_l1 = tf.reduce_mean(tf.abs(targets - outputs))
        gen_loss = gen_loss_gan * 1.0 + gen_loss_l1 * 100.0
    with tf1.name_scope("discriminator_train"):
        discrim_tvars = [v for v in tf1.trainable_variables()
                         if v.name.startswith("discriminator")]
        discrim_optim = tf1.train.AdamOptimizer(0.0002, 0.5)
        discrim_grads_and_vars = discrim_optim.compute_gradients(discrim_loss,
                                                                 var_list=discrim_tvars)
        discrim_train = discrim_optim.apply_gradients(discrim_grads_and_vars)
    with tf1.name_scope("generator_train"), tf.control_dependencies([discrim_train]):
        gen_tvars = [v for v in tf1.trainable_variables() if v.name.startswith("generator")]
        gen_optim = tf1.train.AdamOptimizer(0.0002, 0.5)
        gen_grads_and_vars = gen_optim.compute_gradients(gen_loss, var_list=gen_tvars)
        gen_train = gen_optim.apply_gradients(gen_grads_and_vars)
    ema = tf1.train.ExponentialMovingAverage(decay=0.99)
    update_losses = ema.apply([discrim_loss, gen_loss_gan, gen_loss_l1])
    global_step = tf1.train.get_or_create_global_step()
    incr_global_step = tf1.assign(global_step, global_step + 1)
    update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
    return {"outputs": outputs, "predict_real": predict_real, "predict_fake": predict_fake,
            "discrim_loss": ema.average(discrim_loss),
            "gen_loss_GAN": ema.average(gen_loss_gan),
            "gen_loss_L1": ema.average(gen_loss_l1),
            "grads_and_vars": discrim_grads_and_vars + gen_grads_and_vars,
            "train": tf.group(update_losses, incr_global_step, gen_train, *update_ops)}


def _write_pairs(folder: Path, rng: np.random.Generator, count: int) -> list[str]:
    tf, tf1 = _tf()
    folder.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    paths = []
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        image = tf1.placeholder(tf.uint8, [CROP_SIZE, 2 * CROP_SIZE, 3])
        encode = tf.io.encode_png(image)
        for i in range(count):
            a = rng.integers(0, 256, (CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
            b = (255 - a) // 2 + rng.integers(0, 8, a.shape, dtype=np.uint8)
            path = folder / f"{i + 1}.png"
            path.write_bytes(sess.run(encode, {image: np.concatenate([a, b], axis=1)}))
            paths.append(str(path))
    return paths


def load_examples(input_paths: list[str]) -> dict[str, Any]:
    tf, tf1 = _tf()
    with tf1.name_scope("load_images"):
        path_queue = tf1.train.string_input_producer(input_paths, shuffle=True)
        paths, contents = tf1.WholeFileReader().read(path_queue)
        raw_input = tf.image.convert_image_dtype(tf.image.decode_png(contents), tf.float32)
        assertion = tf1.assert_equal(tf.shape(raw_input)[2], 3,
                                     message="image does not have 3 channels")
        with tf.control_dependencies([assertion]):
            raw_input = tf.identity(raw_input)
        raw_input.set_shape([None, None, 3])
        width = tf.shape(raw_input)[1]
        a_images = preprocess(raw_input[:, :width // 2, :])
        b_images = preprocess(raw_input[:, width // 2:, :])
    seed = 1234

    def transform(image: Any) -> Any:
        r = tf1.image.random_flip_left_right(image, seed=seed)
        r = tf1.image.resize_images(r, [CROP_SIZE, CROP_SIZE],
                                    method=tf1.image.ResizeMethod.AREA)
        # The original draws the crop offset even when scale_size == CROP_SIZE crops nothing.
        tf.cast(tf.floor(tf1.random_uniform([2], 0, 1, seed=seed)), dtype=tf.int32)
        return r

    with tf1.name_scope("input_images"):
        input_images = transform(a_images)
    with tf1.name_scope("target_images"):
        target_images = transform(b_images)
    paths_batch, inputs_batch, targets_batch = tf1.train.batch(
        [paths, input_images, target_images], batch_size=BATCH_SIZE,
        allow_smaller_final_batch=True)
    return {"paths": paths_batch, "inputs": inputs_batch, "targets": targets_batch}


def _summaries(examples: dict[str, Any], model: dict[str, Any]) -> Any:
    tf, tf1 = _tf()

    def convert(image: Any) -> Any:
        return tf.image.convert_image_dtype(image, dtype=tf.uint8, saturate=True)

    for name, image in (("inputs", examples["inputs"]), ("targets", examples["targets"]),
                        ("outputs", model["outputs"])):
        with tf1.name_scope(f"convert_{name}"):
            tf1.summary.image(name, convert(deprocess(image)))
    tf1.summary.image("predict_real", convert(model["predict_real"]))
    tf1.summary.image("predict_fake", convert(model["predict_fake"]))
    for key in ("discrim_loss", "gen_loss_GAN", "gen_loss_L1"):
        tf1.summary.scalar(key, model[key])
    for var in tf1.trainable_variables():
        tf1.summary.histogram(var.op.name + "/values", var)
    for grad, var in model["grads_and_vars"]:
        tf1.summary.histogram(var.op.name + "/gradients", grad)
    return tf1.summary.merge_all()


def build(directory: Path) -> dict[str, Any]:
    tf, tf1 = _tf()
    input_paths = _write_pairs(directory / "train", np.random.default_rng(51), 8)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(51)
        examples = load_examples(input_paths)
        model = create_model(examples["inputs"], examples["targets"])
        summary_op = _summaries(examples, model)
        saver = tf1.train.Saver(max_to_keep=1)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            coord = tf1.train.Coordinator()
            threads = tf1.train.start_queue_runners(sess, coord=coord)
            for _ in range(4):
                sess.run({"train": model["train"], "summary": summary_op})
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=10)
            moved = sess.run("generator/encoder_2/batch_normalization/moving_mean:0")
            assert np.abs(moved).max() > 0
            prefix = saver.save(sess, str(directory / "model"),
                                global_step=tf1.train.get_global_step())

    rng = np.random.default_rng(52)
    sample = rng.uniform(-1, 1, (4, CROP_SIZE, CROP_SIZE, 3)).astype(np.float32)
    serving = tf.Graph()
    with serving.as_default():
        inputs = tf1.placeholder(tf.float32, [None, CROP_SIZE, CROP_SIZE, 3], name="inputs")
        with tf1.variable_scope("generator"):
            outputs = create_generator(inputs, 3, training=False)
    got = twin.answer(serving, prefix, {"predictions": outputs}, {inputs: sample})
    return twin.facts(directory, prefix, inputs={"images": examples["inputs"].name},
                      outputs={"predictions": model["outputs"].name},
                      labels=[examples["targets"].name], samples={"images": sample},
                      expected=got)
