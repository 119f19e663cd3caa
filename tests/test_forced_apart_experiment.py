"""The Forced Apart experiment: each model's objective is the cross-entropy plus exactly the one
component its row of the penalty table selects, and `jaxdis run forced-apart` runs end to end."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import forced_apart as fa
from jaxdis.losses.forced_apart import forced_apart_multi, forced_apart_single
from jaxdis.losses.xcov import decov, xcov
from jaxdis.nets import forced_apart as nets

KEY = jax.random.key(0)


def test_penalty_table_selects_one_weighted_component_per_model():
    config = dataclasses.replace(fa.make_config("mnist"), weight_single=2.0, weight_multi=0.5)
    table = fa.penalty_table(config, ["baseline", "single", "multi", "decov"], [5, 6, 7, 8],
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
    config = fa.make_config("mnist")
    table = fa.penalty_table(config, list(direct), [7.0] * 5, [0.5] * 5)
    objective = jax.jit(lambda penalty: fa.classifier_objective(model, net, penalty, x, binary))
    for row, (loss, value) in enumerate(direct.items()):
        total, parts = objective(jax.tree.map(lambda a: a[row], table))
        np.testing.assert_allclose(total, bce + value, rtol=1e-5, err_msg=loss)
        np.testing.assert_allclose(parts["bce"], bce, rtol=1e-6)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="dataset"):
        fa.make_config("cifar")
    with pytest.raises(ValueError, match="losses"):
        fa._check_config(dataclasses.replace(fa.make_config("mnist"), losses=("dropout",)))
    with pytest.raises(ValueError, match="model"):
        fa._check_config(dataclasses.replace(fa.make_config("mnist"), model="vgg"))


@pytest.mark.slow  # about 30 s alone, two minutes on a loaded 2-core machine
def test_jaxdis_run_forced_apart_end_to_end(tmp_path):
    from jaxdis.cli import main

    status = main(["run", "forced-apart", "--dataset", "mnist", "--seeds", "2",
                   "--out", str(tmp_path),
                   "--set", "train_size=256", "--set", "eval_size=120", "--set", "epochs=1",
                   "--set", "losses=baseline,multi", "--set", "mlp_hidden=16",
                   "--set", "sweep_margins=0.1,1.0", "--set", "sweep_loss=multi",
                   "--set", "cluster_counts=2,4", "--set", "kmeans_seeds=1",
                   "--set", "batch_size=64"])
    assert status == 0
    summary = json.loads((tmp_path / "forced_apart_mnist_mlp.json").read_text())
    for loss in ("baseline", "multi"):
        for split in ("validation", "test"):
            entry = summary["table"][loss][split]
            assert len(entry["ami"]["per_seed"]) == 2
            assert -1.0 <= entry["ami"]["mean"] <= 1.0 and 0.0 <= entry["accuracy"]["mean"] <= 1
    assert np.shape(summary["margin_sweep"]["ami"]) == (2, 2)
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "forced_apart_mnist_mlp_clusters.png", "forced_apart_mnist_mlp_margins.png",
        "forced_apart_mnist_mlp_pca.png", "forced_apart_mnist_mlp_units.png"]
    markdown = fa.report([summary], ["jaxdis run forced-apart --dataset mnist ..."])
    assert "| L_multi |" in markdown and "0.502 / 0.523" in markdown  # ours beside the paper's


def test_report_names_the_margins_that_trained_alike():
    sweep = {"margins": [0.1, 3.0, 10.0], "ami": [[0.4, 0.5], [0.45, 0.5], [0.45, 0.5]],
             "accuracy": [[0.9, 0.9], [0.91, 0.9], [0.91, 0.9]]}
    assert fa._identical_margins(sweep) == [3.0, 10.0]
    sweep["ami"][1] = [0.45, 0.51]  # one seed differs: not the same training
    assert fa._identical_margins(sweep) == []
