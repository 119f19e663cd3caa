"""Specification of the ground-truth scores for composite data and of the digit classifier."""

import functools
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.data import load_mnist, make_composite
from jaxdis.metrics import (
    cause_recovery,
    digit_classifier,
    label_probe,
    pair_recognition,
    read_digits,
)
from jaxdis.metrics import classifier as classifier_module


@pytest.fixture(scope="module")
def digits():
    images, labels = load_mnist("test")  # falls back on the sample that jaxdis ships
    return images[:400], labels[:400]


@pytest.fixture(scope="module")
def template_classifier(digits):
    """A test double for the pairing logic only: the label of the nearest known source image.

    It reads every source image (and anything close to one) correctly, so perfect
    reconstructions must score exactly 1.
    """
    images, labels = digits
    templates = read_digits(jnp.asarray(images)).reshape(len(images), -1)
    one_hot = jax.nn.one_hot(labels, 10)

    def classify(batch):
        flat = batch.reshape(batch.shape[0], -1)
        distances = jnp.sum((flat[:, None, :] - templates[None, :, :]) ** 2, axis=-1)
        return one_hot[jnp.argmin(distances, axis=1)]

    return classify


def composite(digits, kind, value_range=(0.0, 1.0)):
    images, labels = digits
    return make_composite(kind, images, labels, n_pairs=200, seed=0, value_range=value_range)


@pytest.mark.parametrize(
    "kind, value_range",
    [
        ("additive", (0, 1)),
        ("occlusive", (0, 1)),
        ("simple", (0, 1)),
        ("simple", (-1, 1)),
        ("additive", (-1, 1)),
    ],
)
def test_perfect_reconstructions_are_recognised_in_either_order(
    digits, template_classifier, kind, value_range
):
    data = composite(digits, kind, value_range)
    args = (data.label_a, data.label_b, template_classifier)
    assert float(pair_recognition(data.cause_a, data.cause_b, *args)) == 1.0
    assert float(pair_recognition(data.cause_b, data.cause_a, *args)) == 1.0


def test_reconstructing_x_itself_is_not_recognised(digits, template_classifier):
    data = composite(digits, "additive")
    score = float(pair_recognition(data.x, data.x, data.label_a, data.label_b, template_classifier))
    # Both reconstructions read as the same digit: right only when the two labels agree (~10%).
    assert score <= np.mean(data.label_a == data.label_b) + 0.02


def test_unrelated_reconstructions_score_near_chance(digits, template_classifier):
    data = composite(digits, "occlusive")
    shuffle = np.random.default_rng(0).permutation(len(data))
    args = (data.label_a, data.label_b, template_classifier)
    score = float(pair_recognition(data.cause_a[shuffle], data.cause_b[shuffle], *args))
    assert score < 0.08  # chance is about 2%


def test_swapping_a_subset_of_examples_does_not_change_recognition(digits, template_classifier):
    data = composite(digits, "additive")
    noisy_a = data.cause_a + 0.3 * np.random.default_rng(1).uniform(size=data.cause_a.shape)
    swap = (np.arange(len(data)) % 3 == 0)[:, None, None]
    args = (data.label_a, data.label_b, template_classifier)
    unswapped = pair_recognition(noisy_a, data.cause_b, *args)
    swapped_a = np.where(swap, data.cause_b, noisy_a)
    swapped_b = np.where(swap, noisy_a, data.cause_b)
    swapped = pair_recognition(swapped_a, swapped_b, *args)
    assert float(swapped) == float(unswapped)


def test_reading_a_simple_reconstruction_ignores_side_scale_and_range(digits):
    images, _ = digits
    digit = images[:5]
    empty = np.zeros_like(digit)
    expected = read_digits(digit)
    np.testing.assert_allclose(read_digits(np.concatenate([digit, empty], axis=2)), expected)
    np.testing.assert_allclose(read_digits(np.concatenate([empty, digit], axis=2)), expected)
    np.testing.assert_allclose(read_digits(digit / 2), expected, atol=1e-6)  # additive causes
    np.testing.assert_allclose(read_digits(2 * digit - 1), expected, atol=1e-6)  # [-1, 1]
    assert float(jnp.max(jnp.abs(expected - digit))) < 1e-6  # an MNIST digit reads as itself
    assert float(jnp.max(read_digits(np.full((1, 28, 28), 0.3, np.float32)))) == 0.0


def cause_recovery_loop(recon_a, recon_b, cause_a, cause_b):
    """The exchangeable score written out example by example, in float64."""
    recon_a, recon_b, cause_a, cause_b = (
        np.asarray(a, np.float64) for a in (recon_a, recon_b, cause_a, cause_b)
    )
    mean = np.concatenate([cause_a, cause_b]).mean(axis=0)
    sse = sst = 0.0
    for ra, rb, ca, cb in zip(recon_a, recon_b, cause_a, cause_b):
        direct = np.sum((ra - ca) ** 2) + np.sum((rb - cb) ** 2)
        swapped = np.sum((ra - cb) ** 2) + np.sum((rb - ca) ** 2)
        sse += min(direct, swapped)
        sst += np.sum((ca - mean) ** 2) + np.sum((cb - mean) ** 2)
    return 1 - sse / sst


def test_cause_recovery_matches_its_definition_written_as_a_loop():
    rng = np.random.default_rng(2)
    arrays = [rng.uniform(size=(30, 4, 5)).astype(np.float32) for _ in range(4)]
    assert float(cause_recovery(*arrays)) == pytest.approx(cause_recovery_loop(*arrays), rel=1e-5)


@pytest.mark.parametrize("kind", ["additive", "occlusive"])
def test_cause_recovery_perfect_swapped_mean_and_x(digits, kind):
    data = composite(digits, kind)
    a, b = data.cause_a, data.cause_b
    assert float(cause_recovery(a, b, a, b)) == pytest.approx(1.0)
    swap = (np.arange(len(data)) % 2 == 0)[:, None, None]
    per_example_swaps = cause_recovery(np.where(swap, b, a), np.where(swap, a, b), a, b)
    assert float(per_example_swaps) == pytest.approx(1.0)
    noisy = a + 0.1 * np.random.default_rng(3).normal(size=a.shape).astype(np.float32)
    unswapped = float(cause_recovery(noisy, b, a, b))
    assert float(cause_recovery(b, noisy, a, b)) == pytest.approx(unswapped, rel=1e-6)
    mean = np.broadcast_to(np.concatenate([a, b]).mean(axis=0), a.shape)
    assert float(cause_recovery(mean, mean, a, b)) == pytest.approx(0.0, abs=1e-5)
    assert float(cause_recovery(data.x, data.x, a, b)) < 0.2


def test_non_exchangeable_causes_choose_one_assignment_for_the_whole_set(digits):
    data = composite(digits, "simple")
    a, b = data.cause_a, data.cause_b
    assert float(cause_recovery(b, a, a, b, exchangeable=False)) == pytest.approx(1.0)
    swap = (np.arange(len(data)) % 2 == 0)[:, None, None]
    mixed = cause_recovery(np.where(swap, b, a), np.where(swap, a, b), a, b, exchangeable=False)
    assert float(mixed) < 0.5
    means = (np.broadcast_to(a.mean(0), a.shape), np.broadcast_to(b.mean(0), b.shape))
    assert float(cause_recovery(*means, a, b, exchangeable=False)) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("kind, exchangeable", [("simple", False), ("additive", True)])
def test_centred_cause_recovery_forgives_a_constant_image_and_nothing_else(digits, kind,
                                                                          exchangeable):
    """An ASAE's halves can trade a constant image c (y_a + c, y_b - c), and a DDN's single-cause
    decoder adds the other cause's mean: centred, both still score 1; uncentred, they do not."""
    data = composite(digits, kind)
    a, b = data.cause_a, data.cause_b
    c = np.random.default_rng(4).uniform(size=a.shape[1:]).astype(np.float32)
    score = functools.partial(cause_recovery, exchangeable=exchangeable)
    assert float(score(a + c, b - c, a, b, centred=True)) == pytest.approx(1.0, abs=1e-5)
    assert float(score(a + c, b - c, a, b)) < 0.9
    with_other_mean = (a + b.mean(axis=0), b + a.mean(axis=0))
    assert float(score(*with_other_mean, a, b, centred=True)) == pytest.approx(1.0, abs=1e-5)
    # the centred score is the uncentred one of the centred arrays: no other change
    centred = [x - x.mean(axis=0) for x in (data.x, b, a, b)]
    assert float(score(data.x, b, a, b, centred=True)) == pytest.approx(
        float(score(*centred)), rel=1e-5)
    assert float(score(data.x, data.x, a, b, centred=True)) < 0.2


def test_scores_work_under_jit_and_vmap(digits, template_classifier):
    data = composite(digits, "additive")
    # Two runs: one that disentangles, one that reconstructs x from both codes.
    recon_a = jnp.stack([data.cause_a, data.x])
    recon_b = jnp.stack([data.cause_b, data.x])
    over_runs = (0, 0, None, None)
    recovery = jax.jit(jax.vmap(cause_recovery, in_axes=over_runs))(
        recon_a, recon_b, data.cause_a, data.cause_b
    )
    assert float(recovery[0]) == pytest.approx(1.0) and float(recovery[1]) < 0.2
    recognise = lambda ra, rb, la, lb: pair_recognition(ra, rb, la, lb, template_classifier)
    recognition = jax.jit(jax.vmap(recognise, in_axes=over_runs))(
        recon_a, recon_b, data.label_a, data.label_b
    )
    assert float(recognition[0]) == 1.0 and float(recognition[1]) < 0.2


def test_label_probe_finds_the_label_a_code_carries_and_not_the_other():
    rng = np.random.default_rng(4)
    label_a, label_b = rng.integers(0, 3, size=600), rng.integers(0, 3, size=600)
    carries_a = np.eye(3)[label_a] + 0.3 * rng.normal(size=(600, 3))
    code = np.concatenate([carries_a, rng.normal(size=(600, 4))], axis=1)
    accuracy = label_probe(code, np.stack([label_a, label_b], 1))
    assert accuracy.shape == (2,)
    assert accuracy[0] > 0.9
    assert accuracy[1] < 0.45  # chance is 1/3
    assert label_probe(code, label_a) == pytest.approx(accuracy[0])


TWO_IMAGES, THREE_IMAGES = np.zeros((2, 28, 28)), np.zeros((3, 28, 28))
TWO_LABELS, THREE_LABELS = np.zeros(2, int), np.zeros(3, int)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: read_digits(np.zeros((2, 28, 30))), "must have shape"),
        (
            lambda: pair_recognition(TWO_IMAGES, THREE_IMAGES, TWO_LABELS, TWO_LABELS, None),
            "one shape",
        ),
        (
            lambda: pair_recognition(TWO_IMAGES, TWO_IMAGES, THREE_LABELS, TWO_LABELS, None),
            "labels_a must have shape",
        ),
        (
            lambda: pair_recognition(TWO_IMAGES, TWO_IMAGES, np.zeros(2), TWO_LABELS, None),
            "integer labels",
        ),
        (
            lambda: cause_recovery(*[np.zeros((2, 3))] * 2, *[np.zeros((2, 4))] * 2),
            "recon_a",
        ),
        (lambda: label_probe(np.zeros((5, 2)), np.zeros(4, int)), "labels must have shape"),
    ],
)
def test_rejects_bad_inputs(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_classifier_cache_round_trip_and_corrupt_file(tmp_path):
    rng = np.random.default_rng(0)
    sizes = (28 * 28, *classifier_module.HIDDEN, 10)
    params = [{"w": jnp.asarray(rng.normal(size=(i, o)) / np.sqrt(i), jnp.float32),
               "b": jnp.zeros((o,), jnp.float32)} for i, o in zip(sizes[:-1], sizes[1:])]
    saved = classifier_module.DigitClassifier(params=params, test_accuracy=0.5)
    path = classifier_module.save_digit_classifier(saved, tmp_path)
    assert path == classifier_module.classifier_cache_path(tmp_path)
    loaded = digit_classifier(cache_dir=tmp_path)  # found in the cache: no training
    images = jnp.asarray(np.random.default_rng(5).uniform(size=(4, 28, 28)), jnp.float32)
    np.testing.assert_allclose(loaded(images), saved(images), rtol=1e-6)
    assert loaded.test_accuracy == 0.5
    path.write_bytes(b"not msgpack")
    with pytest.raises(ValueError, match="digit_classifier-.*unreadable"):
        digit_classifier(cache_dir=tmp_path)


@pytest.mark.slow
def test_real_classifier_reads_perfect_reconstructions():
    """Trains (about a minute on 2 cores, once; then cached) and scores real composites."""
    classifier = digit_classifier()
    assert classifier.test_accuracy > 0.98
    images, labels = load_mnist("test")
    predictions = jnp.argmax(classifier(images), axis=1)
    accuracy = float(jnp.mean(predictions == labels))
    assert accuracy == pytest.approx(classifier.test_accuracy, abs=1e-4)
    for kind, value_range in [("additive", (0, 1)), ("simple", (-1, 1)), ("occlusive", (0, 1))]:
        data = make_composite(kind, images, labels, n_pairs=2000, seed=1, value_range=value_range)
        args = (data.label_a, data.label_b, classifier)
        perfect = float(pair_recognition(data.cause_a, data.cause_b, *args))
        # Both digits must be read right: about the accuracy squared (0.986^2 = 0.972).
        assert perfect > classifier.test_accuracy**2 - 0.01, (kind, perfect)
        itself = float(pair_recognition(data.x, data.x, *args))
        assert itself < 0.15, (kind, itself)  # one digit read twice: right when labels agree
