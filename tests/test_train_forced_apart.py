"""jaxdis.train.forced_apart: each model's objective is the cross-entropy plus exactly the one
component its row of constants selects; the constants are untrained engine constants; a table
trains through train_sweep (shared seeds, model selection, early stopping, resume); the evaluation
helpers equal their loops."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdis.losses.forced_apart import forced_apart_autoencoder, forced_apart_multi, \
    forced_apart_single
from jaxdis.losses.xcov import decov, xcov
from jaxdis.metrics import ami_vs_clusters, cluster_scores
from jaxdis.nets import forced_apart as nets
from jaxdis.runs import RunDir
from jaxdis.train import forced_apart as fa

KEY = jax.random.key(0)


def test_penalty_table_selects_one_weighted_component_per_model():
    settings = fa.ForcedApartSettings(weight_single=2.0, weight_multi=0.5)
    table = fa.penalty_table(settings, ["baseline", "single", "multi", "decov"], [5, 6, 7, 8],
                             [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_array_equal(table["coefficients"],
                                  [[0, 0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 0.5], [1, 0, 0, 0]])
    np.testing.assert_allclose(table["margins"][:, 0], [5, 6, 7, 8])
    np.testing.assert_allclose(table["margins"][:, 1], [0.1, 0.2, 0.3, 0.4])


def test_classifier_objective_is_bce_plus_the_selected_loss():
    model = nets.MLPClassifier(hidden=(8,))
    x = jax.random.uniform(KEY, (32, 28, 28))
    binary = jnp.arange(32) % 2
    net = jax.jit(model.init)(KEY, x)

    @jax.jit  # one compilation instead of one per operation keeps the test fast
    def bce_and_direct(net):
        logit, fc1 = model.apply(net, x)
        bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logit, binary.astype(jnp.float32)))
        return bce, {  # the losses called one by one, as a user would
            "baseline": 0.0,
            "decov": decov(fc1),
            "xcov": xcov(jax.nn.sigmoid(logit)[:, None], fc1),
            "single": forced_apart_single(net["params"]["head"]["fc1"]["kernel"].T, 7.0),
            "multi": forced_apart_multi(fc1, binary, 0.5),
        }

    bce, direct = bce_and_direct(net)
    table = fa.penalty_table(fa.ForcedApartSettings(), list(direct), [7.0] * 5, [0.5] * 5)
    objective = jax.jit(lambda penalty: fa.classifier_objective(model, net, penalty, x, binary))
    for row, (loss, value) in enumerate(direct.items()):
        total, parts = objective(jax.tree.map(lambda a: a[row], table))
        np.testing.assert_allclose(total, bce + value, rtol=1e-5, err_msg=loss)
        np.testing.assert_allclose(parts["bce"], bce, rtol=1e-6)


def test_autoencoder_objective_is_eq_11_plus_the_selected_term():
    model = nets.SequenceAutoencoder(hidden=4)
    x = jax.random.uniform(KEY, (8, 5, 3))
    net = jax.jit(model.init)(KEY, x)
    settings = fa.ForcedApartSettings(weight_decov=2.0, weight_single=3.0, ae_alpha=0.25,
                                      margin_single=4.0, ae_margin=0.5)
    table = fa.autoencoder_penalty_table(settings, ["baseline", "decov", "single", "multi"])
    np.testing.assert_array_equal(table["coefficients"],
                                  [[0, 0, 0], [2.0, 0, 0], [0, 3.0, 0], [0, 0, 0.25]])
    np.testing.assert_array_equal(table["margins"], [[4.0, 0.5]] * 4)
    x_hat, code = model.apply(net, x)
    reconstruction = forced_apart_autoencoder(x, x_hat, code, 0.5, 0.0)
    expected = [reconstruction, reconstruction + 2.0 * decov(code),
                reconstruction + 3.0 * forced_apart_single(nets.fc1_weight_rows(net), 4.0),
                forced_apart_autoencoder(x, x_hat, code, 0.5, 0.25)]
    objective = jax.jit(lambda constants: fa.autoencoder_objective(model, net, constants, x)[0])
    for row, value in enumerate(expected):
        np.testing.assert_allclose(objective(jax.tree.map(lambda a: a[row], table)), value,
                                   rtol=1e-5, err_msg=str(row))


def test_settings_are_copied_from_a_config_by_name_and_check_their_fields():
    @dataclasses.dataclass(frozen=True)
    class Config:  # more fields than the settings, in another order
        dataset: str = "mnist"
        patience: int = 2
        select_on_validation: bool = True
        ae_margin: float = 0.3
        ae_alpha: float = 0.4
        margin_multi: float = 0.2
        margin_single: float = 7.0
        weight_multi: float = 1.5
        weight_single: float = 1.0
        weight_xcov: float = 1.0
        weight_decov: float = 0.5
        learning_rate: float = 0.01
        batch_size: int = 32
        kmeans_seeds: int = 1
        n_clusters: int = 5
        seeds: int = 2
        seed: int = 7

    settings = fa.ForcedApartSettings.from_config(Config())
    for field in dataclasses.fields(fa.ForcedApartSettings):
        assert getattr(settings, field.name) == getattr(Config(), field.name), field.name
    with pytest.raises(ValueError, match="kmeans_seeds"):  # a missing field, never a default
        fa.ForcedApartSettings.from_config(object())
    with pytest.raises(ValueError, match="margin_multi"):
        fa.ForcedApartSettings(margin_multi=-1.0)
    with pytest.raises(ValueError, match="patience"):  # early stopping needs model selection
        fa.ForcedApartSettings(patience=3)
    with pytest.raises(ValueError, match="losses"):
        fa.penalty_table(settings, ["dropout"], [1.0], [1.0])


def test_models_by_seed_lists_every_row_seed_by_seed():
    assert fa.models_by_seed(("a", "b"), 3) == (["a", "a", "a", "b", "b", "b"], [0, 1, 2, 0, 1, 2])


# ----------------------------------------------------------------------------- training

N, BATCH = 96, 32
MODEL = nets.MLPClassifier(hidden=(6,))


def _split(seed, n=N):
    rng = np.random.default_rng(seed)
    return rng.random((n, 4, 4), np.float32), rng.integers(0, 10, n).astype(np.int32)


def _settings(**changes):
    return dataclasses.replace(fa.ForcedApartSettings(batch_size=BATCH, learning_rate=0.05,
                                                      n_clusters=3, kmeans_seeds=1), **changes)


def _train(tmp_path, settings, losses, seed_of_model, epochs=2, name="run"):
    n = len(losses)
    return fa.train_classifiers(MODEL, settings, epochs, losses, seed_of_model, [1.0] * n,
                                [1.0] * n, _split(0), _split(1), RunDir(tmp_path / name))


def test_a_table_trains_through_train_sweep_with_shared_seeds_and_untrained_constants(tmp_path):
    nets_stack, dead = _train(tmp_path, _settings(), ["baseline", "multi", "baseline"],
                              [0, 0, 1])
    assert dead == []
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(nets_stack)]
    # same loss and seed: the same model; another seed: another start
    assert not all(np.array_equal(leaf[0], leaf[2]) for leaf in leaves)
    records = RunDir(tmp_path / "run").read_metrics()
    assert {"stage", "epoch", "global_epoch", "seed", "probe_accuracy", "multi"} <= set(records[-1])
    assert sorted({r["stage"] for r in records}) == ["init", "train"]
    again, _ = _train(tmp_path, _settings(), ["baseline", "multi", "baseline"], [0, 0, 0],
                      name="shared")
    again = [np.asarray(leaf) for leaf in jax.tree.leaves(again)]
    assert all(np.array_equal(leaf[0], leaf[2]) for leaf in again)  # seed 0 twice
    assert not all(np.array_equal(leaf[0], leaf[1]) for leaf in again)  # L_multi changed it
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(again, leaves))  # seed 0 is seed 0
    # The program trains the role "net" only: the constants ride in the state, not the optimizer.
    program = fa.classifier_program(MODEL, jnp.zeros((1, 4, 4)), _settings(), 1)
    assert set(jax.eval_shape(program.init_params, jax.random.PRNGKey(0))) == {"net"}


def test_selection_returns_each_models_best_validation_epoch_and_patience_stops(tmp_path):
    from jaxdis.train.runner import metric_history

    settings = _settings(select_on_validation=True, learning_rate=0.3)
    nets_stack, _ = _train(tmp_path, settings, ["baseline", "single"], [0, 1], epochs=4)
    run_dir = RunDir(tmp_path / "run")
    history = metric_history(run_dir, "probe_accuracy", ("init", "train"), 2)  # (2, 1 + 4)
    best = [r["best_epoch"] for r in run_dir.read_metrics() if r.get("global_epoch") == 4]
    np.testing.assert_array_equal(best, np.argmax(history[:, 1:], axis=1) + 1)
    x_val, c_val = _split(1)
    logits, _ = nets.stacked_outputs(MODEL, nets_stack, x_val)
    from jaxdis.data.labels import binary_labels

    accuracy = np.mean((logits > 0) == (binary_labels(c_val) == 1), axis=1)
    np.testing.assert_allclose(accuracy, np.max(history[:, 1:], axis=1), atol=1e-6)

    flat = _settings(select_on_validation=True, patience=1, learning_rate=1e-9)  # no change
    _train(tmp_path, flat, ["baseline"], [0], epochs=5, name="stopped")
    epochs = {r["global_epoch"] for r in RunDir(tmp_path / "stopped").read_metrics()}
    assert max(epochs) == 2  # epoch 1 is the best; epoch 2 did not improve: stop


def test_evaluation_helpers_equal_their_loops():
    rng = np.random.default_rng(3)
    features, classes = rng.random((3, 40, 4)), rng.integers(0, 4, 40)
    ami, nmi = fa.cluster_scores_by_model(features, classes, 4, 2)
    for m in range(3):
        direct = cluster_scores(features[m], classes, 4, seeds=(0, 1))
        assert (ami[m], nmi[m]) == (direct["ami"], direct["nmi"])
    rows = fa.mean_std_by_row({"ami": ami}, ["a", "b", "a"], ["a", "b"])
    assert rows["a"]["ami"] == {"mean": float(np.mean(ami[[0, 2]])),
                                "std": float(np.std(ami[[0, 2]])), "per_seed": [ami[0], ami[2]]}
    curves = fa.ami_curves(features, classes, ["a", "b", "a"], ["a"], (2, 3), 1)
    loop = np.mean([ami_vs_clusters(features[i], classes, (2, 3), seeds=(0,))["ami"]
                    for i in (0, 2)], axis=0)
    np.testing.assert_array_equal(curves["a"], loop)

    params = jax.vmap(MODEL.init, in_axes=(0, None))(jax.random.split(KEY, 2),
                                                     jnp.zeros((1, 4, 4)))
    x, c = _split(4, 50)
    scores = fa.evaluate_classifiers(MODEL, params, x, c, 3, 1)
    logits, fc1 = jax.vmap(MODEL.apply, in_axes=(0, None))(params, x)
    np.testing.assert_allclose(scores["fc1"], fc1, rtol=1e-6)
    np.testing.assert_array_equal(scores["accuracy"],
                                  np.mean((np.asarray(logits) > 0) == (c >= 5), axis=1))
    np.testing.assert_array_equal(scores["dead_fc1_units"],
                                  np.mean(np.all(scores["fc1"] <= 0, axis=1), axis=1))
    np.testing.assert_array_equal(scores["ami"],
                                  fa.cluster_scores_by_model(scores["fc1"], c, 3, 1)[0])
