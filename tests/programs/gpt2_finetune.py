"""GPT-2 fine-tuning, tiny.

In the style of nshepperd/gpt-2 ``train.py``, ``src/model.py`` and ``src/sample.py``: a
``context`` int32 placeholder (unnamed: its op is ``Placeholder``), ``model.model``
(token and position embeddings by ``tf.gather``, blocks of ``norm`` → ``attn``
(``conv1d`` as reshaped matmuls, a causal mask, the ``present`` k/v stacked per layer)
→ ``mlp`` with ``gelu``, the final ``ln_f``, logits as a flattened matmul with ``wte``
reshaped back to ``[batch, sequence, vocab]``), the loss on ``logits[:, :-1]`` against
``context[:, 1:]``, ``tf.gradients`` over the model's variables applied by Adam, the
``sample_sequence`` while loop (top-k, ``tf.multinomial``) built on the same context for
the periodic samples, scalar summaries, and ``tf.train.Saver(var_list=all_vars)``: the
model's variables only, not Adam's slots.

The original placeholder is ``[batch_size, None]``; here ``[None, None]`` so each
sequence is servable alone. Served: ``context`` (key by role: ``input_ids``) → the
``[batch, sequence, vocab]`` logits before the loss's slice; the ``present`` stack and
the sampler are left unserved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tests.programs.running import facts, serve_twin

tf1 = tf.compat.v1

HPARAMS = {"n_vocab": 50, "n_ctx": 16, "n_embd": 8, "n_head": 2, "n_layer": 2}


def shape_list(x: Any) -> list[Any]:
    static = x.shape.as_list()
    dynamic = tf.shape(x)
    return [dynamic[i] if s is None else s for i, s in enumerate(static)]


def softmax(x: Any, axis: int = -1) -> Any:
    x = x - tf.reduce_max(x, axis=axis, keepdims=True)
    ex = tf.exp(x)
    return ex / tf.reduce_sum(ex, axis=axis, keepdims=True)


def gelu(x: Any) -> Any:
    return 0.5 * x * (1 + tf.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * tf.pow(x, 3))))


def norm(x: Any, scope: str, *, axis: int = -1, epsilon: float = 1e-5) -> Any:
    with tf1.variable_scope(scope):
        n_state = x.shape[-1]
        g = tf1.get_variable("g", [n_state], initializer=tf1.constant_initializer(1))
        b = tf1.get_variable("b", [n_state], initializer=tf1.constant_initializer(0))
        u = tf.reduce_mean(x, axis=axis, keepdims=True)
        s = tf.reduce_mean(tf.square(x - u), axis=axis, keepdims=True)
        return (x - u) * tf.math.rsqrt(s + epsilon) * g + b


def split_states(x: Any, n: int) -> Any:
    *start, m = shape_list(x)
    return tf.reshape(x, [*start, n, m // n])


def merge_states(x: Any) -> Any:
    *start, a, b = shape_list(x)
    return tf.reshape(x, [*start, a * b])


def conv1d(x: Any, scope: str, nf: int, *, w_init_stdev: float = 0.02) -> Any:
    with tf1.variable_scope(scope):
        *start, nx = shape_list(x)
        w = tf1.get_variable("w", [1, nx, nf],
                             initializer=tf1.random_normal_initializer(stddev=w_init_stdev))
        b = tf1.get_variable("b", [nf], initializer=tf1.constant_initializer(0))
        return tf.reshape(tf.matmul(tf.reshape(x, [-1, nx]), tf.reshape(w, [-1, nf])) + b,
                          [*start, nf])


def attention_mask(nd: Any, ns: Any, *, dtype: Any) -> Any:
    i = tf.range(nd)[:, None]
    j = tf.range(ns)
    return tf.cast(i >= j - ns + nd, dtype)


def attn(x: Any, scope: str, n_state: int, *, past: Any, hparams: dict) -> tuple[Any, Any]:
    def split_heads(x):
        return tf.transpose(split_states(x, hparams["n_head"]), [0, 2, 1, 3])

    def merge_heads(x):
        return merge_states(tf.transpose(x, [0, 2, 1, 3]))

    def mask_attn_weights(w):
        _, _, nd, ns = shape_list(w)
        b = tf.reshape(attention_mask(nd, ns, dtype=w.dtype), [1, 1, nd, ns])
        return w * b - tf.cast(1e10, w.dtype) * (1 - b)

    def multihead_attn(q, k, v):
        w = tf.matmul(q, k, transpose_b=True)
        w = w * tf.math.rsqrt(tf.cast(v.shape[-1], w.dtype))
        return tf.matmul(softmax(mask_attn_weights(w)), v)

    with tf1.variable_scope(scope):
        c = conv1d(x, "c_attn", n_state * 3)
        q, k, v = map(split_heads, tf.split(c, 3, axis=2))
        present = tf.stack([k, v], axis=1)
        if past is not None:
            pk, pv = tf.unstack(past, axis=1)
            k = tf.concat([pk, k], axis=-2)
            v = tf.concat([pv, v], axis=-2)
        a = merge_heads(multihead_attn(q, k, v))
        return conv1d(a, "c_proj", n_state), present


def mlp(x: Any, scope: str, n_state: int) -> Any:
    with tf1.variable_scope(scope):
        return conv1d(gelu(conv1d(x, "c_fc", n_state)), "c_proj", x.shape[-1])


def block(x: Any, scope: str, *, past: Any, hparams: dict) -> tuple[Any, Any]:
    with tf1.variable_scope(scope):
        nx = x.shape[-1]
        a, present = attn(norm(x, "ln_1"), "attn", nx, past=past, hparams=hparams)
        x = x + a
        return x + mlp(norm(x, "ln_2"), "mlp", nx * 4), present


def past_shape(*, hparams: dict, batch_size: Any = None, sequence: Any = None) -> list[Any]:
    return [batch_size, hparams["n_layer"], 2, hparams["n_head"], sequence,
            hparams["n_embd"] // hparams["n_head"]]


def positions_for(tokens: Any, past_length: Any) -> Any:
    batch_size = tf.shape(tokens)[0]
    nsteps = tf.shape(tokens)[1]
    return tf.tile(tf.expand_dims(past_length + tf.range(nsteps), axis=0), [batch_size, 1])


def model(hparams: dict, X: Any, past: Any = None, scope: str = "model",
          reuse: Any = tf1.AUTO_REUSE) -> dict[str, Any]:
    with tf1.variable_scope(scope, reuse=reuse):
        results = {}
        batch, sequence = shape_list(X)
        wpe = tf1.get_variable("wpe", [hparams["n_ctx"], hparams["n_embd"]],
                               initializer=tf1.random_normal_initializer(stddev=0.01))
        wte = tf1.get_variable("wte", [hparams["n_vocab"], hparams["n_embd"]],
                               initializer=tf1.random_normal_initializer(stddev=0.02))
        past_length = 0 if past is None else tf.shape(past)[-2]
        h = tf.gather(wte, X) + tf.gather(wpe, positions_for(X, past_length))
        presents = []
        pasts = tf.unstack(past, axis=1) if past is not None else [None] * hparams["n_layer"]
        for layer, layer_past in enumerate(pasts):
            h, present = block(h, f"h{layer}", past=layer_past, hparams=hparams)
            presents.append(present)
        results["present"] = tf.stack(presents, axis=1)
        h = norm(h, "ln_f")
        h_flat = tf.reshape(h, [batch * sequence, hparams["n_embd"]])
        logits = tf.matmul(h_flat, wte, transpose_b=True)
        results["logits"] = tf.reshape(logits, [batch, sequence, hparams["n_vocab"]])
        return results


def top_k_logits(logits: Any, k: int) -> Any:
    def _top_k():
        values, _ = tf.nn.top_k(logits, k=k)
        min_values = values[:, -1, tf.newaxis]
        return tf1.where(logits < min_values,
                         tf.ones_like(logits, dtype=logits.dtype) * -1e10, logits)

    return tf1.cond(tf.equal(k, 0), lambda: logits, _top_k)


def sample_sequence(*, hparams: dict, length: int, context: Any, temperature: float = 1,
                    top_k: int = 0) -> Any:
    def step(tokens, past=None):
        lm_output = model(hparams=hparams, X=tokens, past=past, reuse=tf1.AUTO_REUSE)
        presents = lm_output["present"]
        presents.set_shape(past_shape(hparams=hparams))
        return {"logits": lm_output["logits"][:, :, :hparams["n_vocab"]],
                "presents": presents}

    with tf.name_scope("sample_sequence"):
        context_output = step(context[:, :-1])

        def body(past, prev, output):
            next_outputs = step(prev[:, tf.newaxis], past=past)
            logits = next_outputs["logits"][:, -1, :] / tf.cast(temperature, tf.float32)
            samples = tf1.multinomial(top_k_logits(logits, k=top_k), num_samples=1,
                                      output_dtype=tf.int32)
            return [tf.concat([past, next_outputs["presents"]], axis=-2),
                    tf.squeeze(samples, axis=[1]),
                    tf.concat([output, samples], axis=1)]

        _, _, tokens = tf1.while_loop(
            cond=lambda *args: True, body=body, maximum_iterations=length,
            loop_vars=[context_output["presents"], context[:, -1], context],
            shape_invariants=[tf.TensorShape(past_shape(hparams=hparams)),
                              tf.TensorShape([None]), tf.TensorShape([None, None])],
            back_prop=False)
        return tokens


def build(directory: Path) -> dict[str, Any]:
    rng = np.random.default_rng(50)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(50)
        context = tf1.placeholder(tf.int32, [None, None])
        output = model(hparams=HPARAMS, X=context)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=context[:, 1:], logits=output["logits"][:, :-1]))
        tf_sample = sample_sequence(hparams=HPARAMS, length=3, context=context,
                                    temperature=1.0, top_k=4)
        all_vars = [v for v in tf1.trainable_variables() if "model" in v.name]
        opt = tf1.train.AdamOptimizer(learning_rate=0.001)
        opt_grads = list(zip(tf.gradients(loss, all_vars), all_vars, strict=True))
        opt_apply = opt.apply_gradients(opt_grads)
        summary_loss = tf1.summary.scalar("loss", loss)
        summary_lr = tf1.summary.scalar("learning_rate", 0.001)
        summaries = tf1.summary.merge([summary_lr, summary_loss])
        saver = tf1.train.Saver(var_list=all_vars, max_to_keep=5,
                                keep_checkpoint_every_n_hours=2)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(4):
                batch = rng.integers(0, HPARAMS["n_vocab"], (2, 8))
                sess.run((opt_apply, loss, summaries), {context: batch})
            sess.run(tf_sample, {context: rng.integers(0, HPARAMS["n_vocab"], (2, 4))})
            prefix = saver.save(sess, str(directory / "model"), global_step=5)
    twin = tf.Graph()
    with twin.as_default():
        served = tf1.placeholder(tf.int32, [None, None])
        twin_logits = model(hparams=HPARAMS, X=served)["logits"]
    tokens = rng.integers(0, HPARAMS["n_vocab"], (3, 6)).astype(np.int32)
    files = serve_twin(twin, prefix, directory, {"input_ids": (served, tokens)},
                       {"logits": twin_logits})
    return facts(prefix, files, inputs={"input_ids": context.name},
                 outputs={"logits": output["logits"].name})
