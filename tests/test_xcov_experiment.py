"""Training the XCov autoencoder (experiments/xcov.py): per-example label masks, the max-norm
adapter, one compiled program for a sweep, model selection on validation, Table 5's sampler."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import xcov
from jaxdis import train
from jaxdis.nets import cheung

TINY = cheung.XCovAutoencoder(image_shape=(6, 6), label_sets=(("c", 3),), latent_dim=2,
                              encoder_widths=(8,), decoder_widths=(8,))


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).astype(np.int32)
    # class-dependent brightness so there is something to learn
    images = np.clip(rng.random((n, 6, 6)) * 0.5 + labels[:, None, None] * 0.25, 0, 1)
    return images.astype(np.float32), labels


def test_label_mask_takes_exactly_k_per_class_reproducibly():
    labels = np.repeat(np.arange(4), 25)
    mask = xcov.label_mask(labels, 3, seed=1)
    assert mask.dtype == np.float32 and mask.sum() == 12
    assert np.bincount(labels[mask == 1], minlength=4).tolist() == [3, 3, 3, 3]
    np.testing.assert_array_equal(mask, xcov.label_mask(labels, 3, seed=1))
    assert xcov.label_mask(labels, None, seed=1).sum() == 100
    with pytest.raises(ValueError, match="labelled_per_class: 30 asked for"):
        xcov.label_mask(labels, 30, seed=1)


def _setting(n, labelled, beta=10.0):
    return {"alpha": jnp.float32(1), "beta": jnp.float32(beta), "gamma": jnp.float32(10),
            "labelled": jnp.asarray(labelled, jnp.float32)}


def test_unlabelled_examples_labels_do_not_reach_the_gradient():
    images, labels = _data(8)
    variables = TINY.init(jax.random.key(0), jnp.asarray(images))
    mask = np.array([1, 0, 1, 0, 0, 1, 0, 0], np.float32)
    batch = {"images": jnp.asarray(images), "labels": jnp.asarray(labels), "index": jnp.arange(8)}
    grad = jax.jit(jax.grad(
        lambda v, b, s: xcov.batch_objective(TINY, v, s, b, jax.random.key(1))[0]))
    g = grad(variables, batch, _setting(8, mask))
    relabelled = dict(batch, labels=jnp.asarray(np.where(mask == 1, labels, (labels + 1) % 3)))
    g_relabelled = grad(variables, relabelled, _setting(8, mask))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), g, g_relabelled)
    # No labels at all is the same as beta = 0 (Cheung et al. section 2.3).
    g_none = grad(variables, batch, _setting(8, np.zeros(8)))
    g_beta0 = grad(variables, batch, _setting(8, np.ones(8), beta=0.0))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8), g_none, g_beta0)
    # The mask is read through each example's index into the whole training set.
    shuffled = {k: v[::-1] for k, v in batch.items()}
    total = jax.jit(
        lambda b: xcov.batch_objective(TINY, variables, _setting(8, mask), b, jax.random.key(1))[1])
    np.testing.assert_allclose(total(batch)["supervised"], total(shuffled)["supervised"], rtol=1e-6)


def test_max_norm_adapter_projects_the_updated_parameters():
    params = {"model": {"dense": {"kernel": jnp.array([[0.6, 0.1], [0.6, 0.1]]),
                                  "bias": jnp.zeros(2)}}}
    grads = jax.tree.map(lambda p: -jnp.ones_like(p), params)
    sgd = train.make_optimizer({"model": train.OptimizerSpec("sgd", learning_rate=0.5)})
    plain_updates, _ = sgd.update(grads, sgd.init(params), params)
    constrained = xcov.with_max_norm(sgd, 0.9)
    updates, _ = constrained.update(grads, constrained.init(params), params)
    new = optax.apply_updates(params, updates)
    expected = cheung.max_norm_project(optax.apply_updates(params, plain_updates), 0.9)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), new, expected)
    norms = np.linalg.norm(np.asarray(new["model"]["dense"]["kernel"]), axis=0)
    np.testing.assert_allclose(norms, [0.9, np.sqrt(2 * 0.6**2)], rtol=1e-6)  # 1.556 -> 0.9; 0.85 kept
    np.testing.assert_allclose(new["model"]["dense"]["bias"], [0.5, 0.5])  # biases free


SETTINGS = xcov.TrainSettings(TINY, epochs=4, batch_size=20, n_train=120)
WEIGHTS = [(1.0, 10.0, 10.0), (1.0, 10.0, 10.0), (1.0, 10.0, 0.0)]  # seeds 0, 1, 0


def _sweep_inputs():
    images, labels = _data(120)
    val_images, val_labels = _data(60, seed=1)
    return (xcov.on_device(images, labels, with_index=True),
            xcov.on_device(val_images, val_labels), val_images, val_labels)


def test_one_program_trains_all_models_and_keeps_each_ones_best_validation_epoch():
    data, validation, val_images, val_labels = _sweep_inputs()
    settings = SETTINGS
    mask = np.ones(120, np.float32)
    before = sum(v for k, v in train.TRACE_COUNTS.items() if k[0] == "xcov")
    records = []
    variables, best_epoch, history = xcov.train_models(
        settings, [0, 1, 0], WEIGHTS, [mask] * 3, data, validation, "reconstruction", 0,
        records.append, "test")
    after = sum(v for k, v in train.TRACE_COUNTS.items() if k[0] == "xcov")
    assert after - before == 1  # three models, four epochs: one trace
    assert len(records) == 3 * 4 and history["validation_reconstruction"].shape == (3, 4)
    np.testing.assert_array_equal(best_epoch, np.argmin(history["validation_reconstruction"], 1))
    scores = xcov.evaluate_stack(TINY, variables, val_images, val_labels)
    chosen = history["validation_reconstruction"][np.arange(3), best_epoch]
    np.testing.assert_allclose(scores["reconstruction"], chosen, rtol=1e-4)
    # Model 2 is model 0 with gamma = 0: same initial parameters, a different objective.
    assert not np.allclose(history["validation_xcov"][0], history["validation_xcov"][2])
    # The vmapped model 1 equals a run of that seed alone (the sweep is a batch of independent runs).
    alone, alone_best, alone_history = xcov.train_models(
        settings, [1], [(1.0, 10.0, 10.0)], [mask], data, validation, "reconstruction", 0,
        lambda r: None, "alone")
    np.testing.assert_allclose(alone_history["validation_reconstruction"][0],
                               history["validation_reconstruction"][1], rtol=2e-4)


def test_selection_by_accuracy_keeps_the_most_accurate_epoch():
    data, validation, val_images, val_labels = _sweep_inputs()
    # Same program and shapes as above: reuses its compiled epochs.
    variables, best_epoch, history = xcov.train_models(
        SETTINGS, [0, 1, 0], WEIGHTS, [np.ones(120, np.float32)] * 3, data, validation,
        "accuracy", 0, lambda r: None, "test")
    for m in range(3):
        accuracy = history["validation_accuracy"][m]
        assert best_epoch[m] == int(np.flatnonzero(accuracy == accuracy.max())[0])  # first best
    scores = xcov.evaluate_stack(TINY, variables, val_images, val_labels)
    np.testing.assert_allclose(scores["accuracy"], history["validation_accuracy"].max(1))


def test_latent_samples_fit_the_class_frequencies_and_the_normal():
    rng = np.random.default_rng(0)
    classes = rng.choice(3, 4000, p=[0.5, 0.3, 0.2])
    y_hat = np.eye(3)[classes] * 0.9 + 0.1 / 3
    z = rng.multivariate_normal([1.0, -2.0], [[0.3, 0.1], [0.1, 0.2]], 4000)
    y, z_new = xcov.latent_samples(jax.random.PRNGKey(0), y_hat, z, 20000)
    assert y.shape == (20000, 3) and z_new.shape == (20000, 2)
    np.testing.assert_allclose(np.asarray(y).mean(0), [0.5, 0.3, 0.2], atol=0.02)
    np.testing.assert_allclose(np.asarray(z_new).mean(0), z.mean(0), atol=0.02)
    np.testing.assert_allclose(np.cov(np.asarray(z_new), rowvar=False), np.cov(z, rowvar=False),
                               atol=0.02)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="study: expected one of"):
        xcov.check_config(xcov.XCovConfig(study="tabel2"))
    with pytest.raises(ValueError, match="model: expected one of"):
        xcov.check_config(xcov.XCovConfig(model="tfd"))
    with pytest.raises(ValueError, match="selection: expected one of"):
        xcov.check_config(xcov.XCovConfig(selection="loss"))


def test_registered_with_the_cli():
    from jaxdis import registry

    experiment = registry.get("xcov")
    config = experiment.make_config(None)
    assert config.dataset == "mnist" and config.seeds >= 1


@pytest.mark.slow
def test_the_whole_experiment_runs_at_a_tiny_scale(tmp_path):
    import dataclasses
    import json

    from jaxdis.data import load_mnist
    from jaxdis.runs import RunDir

    try:
        images, _ = load_mnist("train")
    except Exception as error:  # noqa: BLE001 - any missing-data error
        pytest.skip(f"MNIST not available: {error}")
    if len(images) < 50_000:
        pytest.skip("only the shipped MNIST sample is available")
    config = dataclasses.replace(
        xcov.make_config(None), seeds=1, epochs=2, train_examples=2000, labels_epochs=1,
        labelled_per_class=(10,), parzen_samples=300, parzen_test=100, n_shown=3)
    run_dir = RunDir(tmp_path / "run")
    summary = xcov.run(config, run_dir)
    json.dumps(summary, default=float)
    rows = summary["table2"]["rows"]
    assert set(rows) == {"gamma=10", "gamma=0"}
    assert rows["gamma=10"]["test_accuracy"]["mean"] > 0.5  # 2000 images, 2 epochs: far above 0.1
    assert summary["table2"]["parzen"]["train_images_upper_bound"]["log_likelihood"] > \
        summary["table2"]["parzen"]["model"]["log_likelihood"] - 1000  # finite, comparable
    assert (run_dir.path / "xcov.md").read_text().startswith("# XCov")
    assert len(list(run_dir.figures.glob("xcov_*.png"))) >= 8


def test_table2_report_reads_each_row_from_its_summary():
    stats = lambda mean, std: {"mean": mean, "std": std, "per_seed": [mean - std, mean + std]}
    summary = {
        "config": {"model": "conv_mnist", "gamma": 10.0, "alpha": 1.0, "beta": 10.0, "seeds": 2,
                   "epochs": 3, "train_examples": 0, "selection": "reconstruction"},
        "table2": {"rows": {"gamma=10": {"validation_accuracy": stats(0.9512, 0.0011),
                                         "test_accuracy": stats(0.9433, 0.0022)},
                            "gamma=0": {"validation_accuracy": stats(0.5, 0.0),
                                        "test_accuracy": stats(0.5, 0.0)}},
                   "paper": xcov.PAPER_TABLE2["conv_mnist"], "train_seconds": 120.4,
                   "train_examples": 10000, "models_trained_together": 2},
        "provenance": {"device": "cpu:cpu"}, "wall_seconds": 300.2}
    report = xcov.table2_report({"xcov_conv_mnist.json": summary})
    row = [line for line in report.splitlines() if line.startswith("| conv_mnist")]
    assert row == ["| conv_mnist | 98.71 | 95.12 ± 0.11 | 94.33 ± 0.22 | 2 | 3 | 10000 | 1, 10, 10 "
                   "| reconstruction | 2 | cpu:cpu; 120, 300 | xcov_conv_mnist.md |"]
