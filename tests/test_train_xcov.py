"""Training the XCov autoencoder (jaxdis.train.xcov): the objective with per-example label masks
and several label sets, max-norm as the program's projection, one compiled program for a sweep
trained by the runner with model selection on validation, the data, Table 5's sampler."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdis import train
from jaxdis.data.labelled_npz import save_labelled_npz
from jaxdis.nets import cheung
from jaxdis.runs import RunDir
from jaxdis.train import xcov as xt

TINY = cheung.XCovAutoencoder(image_shape=(6, 6), label_sets=(("c", 3),), latent_dim=2,
                              encoder_widths=(8,), decoder_widths=(8,))


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).astype(np.int32)
    # class-dependent brightness so there is something to learn
    images = np.clip(rng.random((n, 6, 6)) * 0.5 + labels[:, None, None] * 0.25, 0, 1)
    return images.astype(np.float32), labels


def _softmax(logits):
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


# ----------------------------------------------------------------------------- settings, data

def test_settings_are_read_from_a_config_by_field_name():
    @dataclasses.dataclass
    class Config:  # any object with these attributes, in any order, with others beside them
        seeds: int = 3
        max_norm: float = 0.9
        selection: str = "accuracy"
        eps: float = 1e-5
        rho: float = 0.9
        learning_rate: float = 0.5
        batch_size: int = 25
        epochs: int = 7
        model: str = "mnist"

    settings = xt.TrainSettings.from_config(Config(), epochs=2)
    assert settings == xt.TrainSettings(model=cheung.mnist(), epochs=2, batch_size=25,
                                        learning_rate=0.5, rho=0.9, eps=1e-5, max_norm=0.9,
                                        selection="accuracy")
    with pytest.raises(ValueError, match=r"changes: \['epoch'\] are not settings"):
        xt.TrainSettings.from_config(Config(), epoch=2)
    with pytest.raises(ValueError, match="selection: expected one of"):
        xt.TrainSettings(TINY, epochs=1, selection="loss")
    with pytest.raises(ValueError, match=r"max_norm: expected >= 0 \(0 = off\)"):
        xt.TrainSettings(TINY, epochs=1, max_norm=-1.0)


def test_model_constants_stack_one_row_per_model_and_name_bad_shapes():
    constants = xt.model_constants([(1.0, 10.0, 10.0), (1.0, 10.0, 0.0)], np.ones((2, 5)))
    assert {k: v.shape for k, v in constants.items()} == {
        "alpha": (2,), "beta": (2,), "gamma": (2,), "labelled": (2, 5)}
    np.testing.assert_array_equal(constants["gamma"], [10.0, 0.0])
    with pytest.raises(ValueError, match="weights: expected one"):
        xt.model_constants([(1.0, 10.0)], np.ones((1, 5)))
    with pytest.raises(ValueError, match="labelled: expected one flag vector per model"):
        xt.model_constants([(1.0, 10.0, 10.0)] * 2, np.ones((3, 5)))


def test_label_mask_takes_exactly_k_per_class_reproducibly():
    labels = np.repeat(np.arange(4), 25)
    mask = xt.label_mask(labels, 3, seed=1)
    assert mask.dtype == np.float32 and mask.sum() == 12
    assert np.bincount(labels[mask == 1], minlength=4).tolist() == [3, 3, 3, 3]
    np.testing.assert_array_equal(mask, xt.label_mask(labels, 3, seed=1))
    assert xt.label_mask(labels, None, seed=1).sum() == 100
    with pytest.raises(ValueError, match="labelled_per_class: 30 asked for"):
        xt.label_mask(labels, 30, seed=1)


@pytest.mark.parametrize("model, label_sets, shape, message", [
    ("tfd", [("expression", 7)], (32, 32), r"images of shape \(32, 32\); model tfd takes \(48, 48\)"),
    ("tfd", [("emotion", 7)], (48, 48), r"label sets \['emotion'\]; model tfd needs \['expression'\]"),
    ("conv_deconv_multipie", [("pose", 13)], (48, 48), "needs \\['illumination', 'pose'\\]"),
    ("tfd", [("expression", 9)], (48, 48), r"labels_expression .* holds [78]; model tfd has 7 classes"),
])
def test_a_file_that_does_not_fit_the_model_is_refused(tmp_path, model, label_sets, shape, message):
    rng = np.random.default_rng(0)
    n = 30
    labels = {name: np.arange(n) % classes for name, classes in label_sets}
    split = np.array(["train", "validation", "test"] * 10)
    path = save_labelled_npz(tmp_path / "f.npz", rng.integers(0, 255, (n,) + shape, dtype=np.uint8),
                             labels, split)
    with pytest.raises(ValueError, match=message):
        xt.load_npz_splits(str(path), model)


def test_load_splits_cuts_the_training_split_and_names_a_count_too_large(tmp_path):
    rng = np.random.default_rng(0)
    split = np.array(["train"] * 20 + ["validation"] * 5 + ["test"] * 5)
    path = str(save_labelled_npz(tmp_path / "f.npz", rng.integers(0, 255, (30, 48, 48),
                                                                   dtype=np.uint8),
                                 {"expression": np.arange(30) % 7}, split))
    splits = xt.load_splits("tfd", npz=path, train_examples=12)
    assert {k: len(v[0]) for k, v in splits.items()} == {"train": 12, "validation": 5, "test": 5}
    np.testing.assert_array_equal(splits["train"][1], np.arange(12) % 7)
    with pytest.raises(ValueError, match="train_examples: 21 asked for, the training split has 20"):
        xt.load_splits("tfd", npz=path, train_examples=21)


# ----------------------------------------------------------------------------- the objective

def _constants(n, labelled, beta=10.0):
    return {"alpha": jnp.float32(1), "beta": jnp.float32(beta), "gamma": jnp.float32(10),
            "labelled": jnp.asarray(labelled, jnp.float32)}


def test_unlabelled_examples_labels_do_not_reach_the_gradient():
    images, labels = _data(8)
    variables = TINY.init(jax.random.key(0), jnp.asarray(images))
    mask = np.array([1, 0, 1, 0, 0, 1, 0, 0], np.float32)
    batch = {"images": jnp.asarray(images), "labels": jnp.asarray(labels), "index": jnp.arange(8)}
    grad = jax.jit(jax.grad(
        lambda v, b, s: xt.batch_objective(TINY, v, s, b, jax.random.key(1))[0]))
    g = grad(variables, batch, _constants(8, mask))
    relabelled = dict(batch, labels=jnp.asarray(np.where(mask == 1, labels, (labels + 1) % 3)))
    g_relabelled = grad(variables, relabelled, _constants(8, mask))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), g, g_relabelled)
    # No labels at all is the same as beta = 0 (Cheung et al. section 2.3).
    g_none = grad(variables, batch, _constants(8, np.zeros(8)))
    g_beta0 = grad(variables, batch, _constants(8, np.ones(8), beta=0.0))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8), g_none, g_beta0)
    # The mask is read through each example's index into the whole training set.
    shuffled = {k: v[::-1] for k, v in batch.items()}
    total = jax.jit(
        lambda b: xt.batch_objective(TINY, variables, _constants(8, mask), b, jax.random.key(1))[1])
    np.testing.assert_allclose(total(batch)["supervised"], total(shuffled)["supervised"], rtol=1e-6)


def test_objective_with_two_label_sets_is_eq3_on_the_joined_softmax():
    """alpha U + beta (S_pose + S_light) + gamma C([ŷ_pose, ŷ_light], z), written out in NumPy,
    float64; -1 labels and a zero flag drop an example from that set's S only."""
    rng = np.random.default_rng(0)
    n = 12
    x, x_hat = rng.random((n, 4, 4)), rng.random((n, 4, 4))
    logits = {"pose": rng.normal(size=(n, 3)), "light": rng.normal(size=(n, 5))}
    labels = {"pose": rng.integers(0, 3, n), "light": rng.integers(0, 5, n)}
    labels["light"][[1, 4, 7]] = -1
    z = rng.normal(size=(n, 2))
    flags = np.ones(n)
    flags[5] = 0.0
    alpha, beta, gamma = 1.5, 10.0, 7.0
    with jax.enable_x64(True):
        total, parts = xt.objective(
            jnp.asarray(x), jnp.asarray(x_hat), jax.tree.map(jnp.asarray, labels),
            jax.tree.map(jnp.asarray, logits), jnp.asarray(z), jnp.asarray(flags), alpha, beta, gamma)
        total, parts = float(total), {k: float(v) for k, v in parts.items()}
    u = np.mean(np.sum((x - x_hat).reshape(n, -1) ** 2, 1))
    s = 0.0
    for name in ("pose", "light"):
        p = _softmax(logits[name])
        used = (labels[name] >= 0) & (flags > 0)
        s += sum(-np.log(p[i, labels[name][i]]) for i in range(n) if used[i]) / n
    y_hat = np.concatenate([_softmax(logits["light"]), _softmax(logits["pose"])], 1)
    cov = (y_hat - y_hat.mean(0)).T @ (z - z.mean(0)) / n
    c = 0.5 * np.sum(cov ** 2)
    np.testing.assert_allclose(parts["reconstruction"], u, rtol=1e-10)
    np.testing.assert_allclose(parts["supervised"], s, rtol=1e-10)
    np.testing.assert_allclose(parts["xcov"], c, rtol=1e-10)
    np.testing.assert_allclose(total, alpha * u + beta * s + gamma * c, rtol=1e-10)


def test_accuracy_counts_labelled_examples_per_set():
    logits = {"a": jnp.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]),
              "b": jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])}
    labels = {"a": jnp.array([0, 0, -1]), "b": jnp.array([1, 1, 2])}
    scores = xt.label_accuracies(logits, labels)
    np.testing.assert_allclose(scores["accuracy_a"], 0.5)  # the -1 example is not counted
    np.testing.assert_allclose(scores["accuracy_b"], 2 / 3)
    np.testing.assert_allclose(scores["accuracy"], (0.5 + 2 / 3) / 2)


# ----------------------------------------------------------------------------- the program

def test_max_norm_is_the_programs_projection_of_the_updated_parameters():
    params = {"model": {"dense": {"kernel": jnp.array([[0.6, 0.1], [0.6, 0.1]]),
                                  "bias": jnp.zeros(2)}}}
    grads = jax.tree.map(lambda p: -jnp.ones_like(p), params)
    sgd = train.make_optimizer({"model": train.OptimizerSpec("sgd", learning_rate=0.5)})
    plain_updates, _ = sgd.update(grads, sgd.init(params), params)
    program = xt.xcov_program(xt.TrainSettings(TINY, epochs=1, max_norm=0.9))
    new = program.projection(optax.apply_updates(params, plain_updates), {})
    expected = cheung.max_norm_project(optax.apply_updates(params, plain_updates), 0.9)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), new, expected)
    norms = np.linalg.norm(np.asarray(new["model"]["dense"]["kernel"]), axis=0)
    np.testing.assert_allclose(norms, [0.9, np.sqrt(2 * 0.6**2)], rtol=1e-6)  # 1.556 -> 0.9; 0.85 kept
    np.testing.assert_allclose(new["model"]["dense"]["bias"], [0.5, 0.5])  # biases free
    assert xt.xcov_program(xt.TrainSettings(TINY, epochs=1)).projection is None  # 0: off


def test_every_step_of_a_max_norm_program_ends_inside_the_constraint():
    images, labels = _data(40)
    program = xt.xcov_program(xt.TrainSettings(TINY, epochs=1, batch_size=20, max_norm=0.3))
    constants = xt.model_constants([(1.0, 10.0, 10.0)], np.ones((1, 40)))
    state = train.init_state(program, jax.random.PRNGKey(0),
                             constants=jax.tree.map(lambda leaf: leaf[0], constants))  # one model
    batch = jax.tree.map(lambda leaf: leaf[:20], xt.on_device(images, labels, with_index=True))
    step = train.compiled_step(program, 0)
    for i in range(3):
        state, _ = step(state, batch, jax.random.PRNGKey(i), jnp.int32(0))
        for path, leaf in jax.tree_util.tree_leaves_with_path(state.params):
            if path[-1].key == "kernel":
                norms = np.linalg.norm(np.asarray(leaf).reshape(-1, leaf.shape[-1]), axis=0)
                assert np.all(norms <= 0.3 + 1e-6)


SETTINGS = xt.TrainSettings(TINY, epochs=4, batch_size=20)
WEIGHTS = [(1.0, 10.0, 10.0), (1.0, 10.0, 10.0), (1.0, 10.0, 0.0)]  # seeds 0, 1, 0
SEEDS = [0, 1, 0]


def _splits():
    return {"train": _data(120), "validation": _data(60, seed=1)}


def test_one_program_trains_all_models_and_keeps_each_ones_best_validation_epoch(tmp_path):
    splits = _splits()
    before = sum(v for k, v in train.TRACE_COUNTS.items() if k[0] == "xcov")
    run_dir = RunDir(tmp_path / "sweep")
    states, history = xt.train_models(SETTINGS, run_dir, splits["train"], splits["validation"],
                                      WEIGHTS, seed_indices=SEEDS)
    after = sum(v for k, v in train.TRACE_COUNTS.items() if k[0] == "xcov")
    assert after - before == 1  # three models, four epochs: one trace
    records = [r for r in run_dir.read_metrics() if r["stage"] == "xcov"]
    assert len(records) == 3 * 4 and history["validation_reconstruction"].shape == (3, 4)
    best_epoch = np.asarray(states.best["epoch"]) - 1
    np.testing.assert_array_equal(best_epoch, np.argmin(history["validation_reconstruction"], 1))
    scores = xt.evaluate_stack(TINY, states.best["params"]["model"], *splits["validation"])
    chosen = history["validation_reconstruction"][np.arange(3), best_epoch]
    np.testing.assert_allclose(scores["reconstruction"], chosen, rtol=1e-4)
    # Model 2 is model 0 with gamma = 0: same initial parameters, a different objective.
    initial = {r["seed"]: r["validation_reconstruction"] for r in run_dir.read_metrics()
               if r["stage"] == "init"}
    assert initial[0] == initial[2] != initial[1]
    assert not np.allclose(history["validation_xcov"][0], history["validation_xcov"][2])
    # The vmapped model 1 equals a run of that seed alone (the sweep is a batch of independent runs).
    _, alone_history = xt.train_models(SETTINGS, RunDir(tmp_path / "alone"), splits["train"],
                                       splits["validation"], [(1.0, 10.0, 10.0)],
                                       seed_indices=[1])
    np.testing.assert_allclose(alone_history["validation_reconstruction"][0],
                               history["validation_reconstruction"][1], rtol=2e-4)


def test_selection_by_accuracy_keeps_the_most_accurate_epoch(tmp_path):
    splits = _splits()
    settings = dataclasses.replace(SETTINGS, selection="accuracy")
    trained = xt.train_and_evaluate(settings, RunDir(tmp_path / "sweep"), splits, WEIGHTS,
                                    seed_indices=SEEDS, evaluate_on=("validation",))
    history = trained.history
    for m in range(3):
        accuracy = history["validation_accuracy"][m]
        assert trained.best_epoch[m] == int(np.flatnonzero(accuracy == accuracy.max())[0])  # first best
    np.testing.assert_allclose(trained.scores["validation"]["accuracy"],
                               history["validation_accuracy"].max(1))


def test_a_finished_folder_returns_its_models_without_training_and_patience_stops_early(tmp_path):
    splits = _splits()
    run_dir = RunDir(tmp_path / "sweep")
    first = xt.train_and_evaluate(SETTINGS, run_dir, splits, WEIGHTS[:1],
                                  evaluate_on=("validation",))
    before = run_dir.read_metrics()
    again = xt.train_and_evaluate(SETTINGS, run_dir, splits, WEIGHTS[:1],
                                  evaluate_on=("validation",))
    assert run_dir.read_metrics() == before
    np.testing.assert_array_equal(again.best_epoch, first.best_epoch)
    jax.tree.map(np.testing.assert_array_equal, again.variables, first.variables)
    # A step of 1e-30 leaves float32 parameters as they are, so no epoch improves on epoch 1:
    # patience 2 ends the phase after epoch 3.
    frozen = dataclasses.replace(SETTINGS, epochs=10, learning_rate=1e-30)
    stopped = xt.train_and_evaluate(frozen, RunDir(tmp_path / "frozen"), splits, WEIGHTS[:1],
                                    patience=2, evaluate_on=())
    assert stopped.history["validation_reconstruction"].shape == (1, 3)
    assert stopped.best_epoch.tolist() == [0]


# ----------------------------------------------------------------------------- Table 5

def test_latent_samples_fit_the_class_frequencies_and_the_normal():
    rng = np.random.default_rng(0)
    classes = rng.choice(3, 4000, p=[0.5, 0.3, 0.2])
    y_hat = np.eye(3)[classes] * 0.9 + 0.1 / 3
    z = rng.multivariate_normal([1.0, -2.0], [[0.3, 0.1], [0.1, 0.2]], 4000)
    y, z_new = xt.latent_samples(jax.random.PRNGKey(0), y_hat, z, 20000)
    assert y.shape == (20000, 3) and z_new.shape == (20000, 2)
    np.testing.assert_allclose(np.asarray(y).mean(0), [0.5, 0.3, 0.2], atol=0.02)
    np.testing.assert_allclose(np.asarray(z_new).mean(0), z.mean(0), atol=0.02)
    np.testing.assert_allclose(np.cov(np.asarray(z_new), rowvar=False), np.cov(z, rowvar=False),
                               atol=0.02)


def test_sample_images_decode_the_latent_samples_and_parzen_table5_scores_them():
    images, labels = _data(60)
    variables = TINY.init(jax.random.key(0), jnp.asarray(images[:1]))
    stack = jax.tree.map(lambda leaf: leaf[None], variables)  # a stack of one model
    scores = xt.evaluate_stack(TINY, stack, images, labels)
    key = jax.random.PRNGKey(3)
    samples = xt.sample_images(TINY, variables, key, scores["y_hat"][0], scores["z"][0], 25,
                               chunk=10)
    y, z = xt.latent_samples(key, scores["y_hat"][0], scores["z"][0], 25)
    decoded = np.asarray(TINY.apply(variables, y, z, method=TINY.decode)).reshape(25, -1)
    np.testing.assert_allclose(samples, decoded, rtol=1e-5, atol=1e-6)  # chunks: other shapes
    table = xt.parzen_table5(TINY, variables, scores["y_hat"][0], scores["z"][0],
                             {"train": images, "validation": images[:20], "test": images[20:]},
                             n_samples=100, n_test=15, bandwidths=(0.1, 0.3), seed=0)
    assert table["samples"] == 60 and table["test_images"] == 15  # at most the training images
    for name in ("model", "train_images_upper_bound"):
        assert np.isclose(table[name]["bandwidth"], [0.1, 0.3]).any()  # float32
        assert np.isfinite(table[name]["log_likelihood"]) and table[name]["standard_error"] > 0
