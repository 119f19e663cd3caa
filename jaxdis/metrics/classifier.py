"""The digit classifier that reads single-cause reconstructions (for ``pair_recognition``).

A multilayer perceptron 784-800-800-10 with ReLUs, trained once on the 50,000 MNIST training
images with Adam and cross-entropy (a whole training run is one jitted ``lax.scan`` over
epochs and minibatches), checked to exceed 98% accuracy on the 10,000 test images, and cached
with Flax serialization so that later calls only load it, which is fast.

Cache location: the ``cache_dir`` argument, else ``$JAXDIS_CACHE_DIR``, else ``~/.cache/jaxdis``;
the file is ``digit_classifier-<VERSION>.msgpack`` (parameters and test accuracy). Delete it to
train again.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization

__all__ = ["DigitClassifier", "digit_classifier", "train_digit_classifier"]

VERSION = "mlp800x2-adam-v1"  # change when the architecture or training changes
HIDDEN = (800, 800)
EPOCHS = 12
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
REQUIRED_TEST_ACCURACY = 0.98


@dataclasses.dataclass(frozen=True)
class DigitClassifier:
    """``classifier(images)``: float (N, 28, 28) in [0, 1] -> logits (N, 10). Pure: no state.

    Attributes:
      params: the MLP's weights, a list of {"w", "b"} per layer.
      test_accuracy: its accuracy on the 10,000 MNIST test images, measured after training.
    """

    params: list
    test_accuracy: float

    def __call__(self, images):
        return mlp_logits(self.params, images)


def mlp_logits(params, images):
    """The MLP: flatten, (Dense, ReLU) per hidden layer, Dense to 10 logits."""
    images = jnp.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"classifier: images must have shape (N, 28, 28), got {images.shape}")
    activations = images.reshape(images.shape[0], -1)
    for layer in params[:-1]:
        activations = jax.nn.relu(activations @ layer["w"] + layer["b"])
    return activations @ params[-1]["w"] + params[-1]["b"]


def digit_classifier(data_dir=None, cache_dir=None) -> DigitClassifier:
    """The cached MNIST digit classifier, training it once (slow on a CPU) if not cached.

    Args:
      data_dir: where ``jaxdis.data.load_mnist`` looks first for MNIST (see its docstring).
      cache_dir: where the trained parameters live (default ``$JAXDIS_CACHE_DIR`` or
        ``~/.cache/jaxdis``).
    """
    path = classifier_cache_path(cache_dir)
    if path.exists():
        return _load(path)
    classifier = train_digit_classifier(data_dir)
    save_digit_classifier(classifier, cache_dir)
    return classifier


def train_digit_classifier(data_dir=None, seed: int = 0, epochs: int = EPOCHS) -> DigitClassifier:
    """Trains the MLP on the MNIST training split; raises if test accuracy is below 98%."""
    from jaxdis.data import load_mnist

    train_images, train_labels = load_mnist("train", data_dir)
    test_images, test_labels = load_mnist("test", data_dir)
    key = jax.random.key(seed)
    params = _train(jnp.asarray(train_images), jnp.asarray(train_labels), key, epochs)
    params = jax.device_get(params)
    predictions = np.asarray(jnp.argmax(jax.jit(mlp_logits)(params, test_images), axis=1))
    accuracy = float(np.mean(predictions == np.asarray(test_labels)))
    if accuracy < REQUIRED_TEST_ACCURACY:
        raise RuntimeError(
            f"digit classifier reached only {accuracy:.4f} test accuracy "
            f"(needs {REQUIRED_TEST_ACCURACY}); not cached"
        )
    return DigitClassifier(params=params, test_accuracy=accuracy)


def _init(key):
    sizes = (28 * 28, *HIDDEN, 10)
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {
            "w": jax.random.normal(k, (fan_in, fan_out)) * jnp.sqrt(2.0 / fan_in),  # He init
            "b": jnp.zeros((fan_out,)),
        }
        for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:])
    ]


@functools.partial(jax.jit, static_argnums=(3,))
def _train(images, labels, key, epochs):
    """The whole training run: scan over epochs, each a scan over shuffled minibatches."""
    init_key, shuffle_key = jax.random.split(key)
    params = _init(init_key)
    steps_per_epoch = images.shape[0] // BATCH_SIZE
    schedule = optax.cosine_decay_schedule(LEARNING_RATE, epochs * steps_per_epoch)
    optimizer = optax.adam(schedule)

    def loss(params, batch_images, batch_labels):
        logits = mlp_logits(params, batch_images)
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch_labels).mean()

    def step(state, batch):
        params, opt_state = state
        grads = jax.grad(loss)(params, *batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    def epoch(state, epoch_key):
        order = jax.random.permutation(epoch_key, images.shape[0])[: steps_per_epoch * BATCH_SIZE]
        order = order.reshape(steps_per_epoch, BATCH_SIZE)
        state, _ = jax.lax.scan(step, state, (images[order], labels[order]))
        return state, None

    state = (params, optimizer.init(params))
    (params, _), _ = jax.lax.scan(epoch, state, jax.random.split(shuffle_key, epochs))
    return params


def classifier_cache_path(cache_dir=None) -> Path:
    """The file :func:`digit_classifier` reads and :func:`save_digit_classifier` writes, in
    ``cache_dir`` (default ``$JAXDIS_CACHE_DIR`` or ``~/.cache/jaxdis``)."""
    root = cache_dir or os.environ.get("JAXDIS_CACHE_DIR") or Path.home() / ".cache" / "jaxdis"
    return Path(root) / f"digit_classifier-{VERSION}.msgpack"


def _template():
    sizes = (28 * 28, *HIDDEN, 10)
    params = [
        {"w": np.zeros((i, o), np.float32), "b": np.zeros((o,), np.float32)}
        for i, o in zip(sizes[:-1], sizes[1:])
    ]
    return {"params": params, "test_accuracy": 0.0}


def save_digit_classifier(classifier: DigitClassifier, cache_dir=None) -> Path:
    """Writes ``classifier`` where :func:`digit_classifier` finds it (for instance one trained on
    another machine), atomically; returns the file."""
    path = classifier_cache_path(cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = serialization.to_bytes(
        {"params": classifier.params, "test_accuracy": np.float64(classifier.test_accuracy)}
    )
    # Write then rename, so that a concurrent reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as f:
        f.write(payload)
    os.replace(temporary, path)
    return path


def _load(path: Path) -> DigitClassifier:
    try:
        state = serialization.from_bytes(_template(), path.read_bytes())
        params = [{"w": jnp.asarray(l["w"]), "b": jnp.asarray(l["b"])} for l in state["params"]]
        for layer, expected in zip(params, _template()["params"]):
            if layer["w"].shape != expected["w"].shape or layer["b"].shape != expected["b"].shape:
                raise ValueError("layer shapes differ from the architecture")
    except Exception as error:  # msgpack, key and shape errors alike mean a bad file
        raise ValueError(
            f"digit classifier cache {path} is unreadable or not of version {VERSION} "
            f"({error}); delete it to train again"
        ) from error
    return DigitClassifier(params=params, test_accuracy=float(state["test_accuracy"]))
