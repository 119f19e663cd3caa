"""TFD and Multi-PIE from a user's labelled-images .npz (jaxdis.data.labelled_npz): end-to-end
training from the command line on random data of the paper's shapes (48x48 faces; 7 expressions;
13 poses and 19 illuminations), and the config's errors. The objective with several label sets and
the file's checks against the model are tested in tests/test_train_xcov.py."""

import json

import numpy as np
import pytest

from experiments import xcov
from jaxdis import cli
from jaxdis.data.labelled_npz import save_labelled_npz
from jaxdis.train import xcov as xt


def _faces(path, label_sets, n_train=60, n_val=20, n_test=20, seed=0):
    """Random 48x48 uint8 'faces' whose brightness depends on the first label set's class (so
    there is something to learn), a third of the training labels missing (-1), and a split."""
    rng = np.random.default_rng(seed)
    n = n_train + n_val + n_test
    labels = {name: rng.integers(0, classes, n) for name, classes in label_sets}
    first = next(iter(labels.values()))
    mean = 40 + 160 * first / max(label_sets[0][1] - 1, 1)
    images = np.clip(mean[:, None, None] + rng.normal(0, 30, (n, 48, 48)), 0, 255).astype(np.uint8)
    for values in labels.values():
        values[:n_train:3] = -1
    split = np.array(["train"] * n_train + ["validation"] * n_val + ["test"] * n_test)
    return save_labelled_npz(path, images, labels, split)


def _run_cli(tmp_path, model, npz, *extra):
    out = tmp_path / "run"
    code = cli.main(["run", "xcov", "--set", f"model={model}", "--set", f"npz={npz}",
                     "--set", "epochs=3", "--set", "batch_size=10", "--set", "n_shown=3",
                     "--out", str(out), *extra])
    assert code == 0
    return out, json.loads((out / "summary.json").read_text())


def _check_training(result, label_sets, seeds, epochs=3):
    curves = result["curves"]
    for name in ("reconstruction", "supervised", "xcov", "validation_accuracy",
                 "validation_reconstruction"):
        values = np.asarray(curves[name])
        assert values.shape == (seeds, epochs), name
        assert np.all(np.isfinite(values)), name
    training_u = np.asarray(curves["reconstruction"])
    assert np.all(training_u[:, -1] < training_u[:, 0])  # the loss goes down, every seed
    assert len(result["best_epoch"]) == seeds
    for split in ("validation", "test"):
        for stats in result[split].values() if split == "validation" else [result["test"]["accuracy"]]:
            assert len(stats["per_seed"]) == seeds
            assert all(0.0 <= a <= 1.0 for a in stats["per_seed"])
    assert set(result["label_sets"]) == {name for name, _ in label_sets}


@pytest.mark.slow
def test_tfd_trains_from_an_npz_through_the_cli(tmp_path):
    npz = _faces(tmp_path / "tfd.npz", [("expression", 7)])
    out, summary = _run_cli(tmp_path, "tfd", npz, "--seeds", "2", "--set", "gamma=1000")
    result = summary["npz"]
    _check_training(result, [("expression", 7)], seeds=2)
    assert result["examples"] == {"train": 60, "validation": 20, "test": 20}
    assert result["labelled"]["train"] == {"expression": 40}
    assert result["paper"]["accuracy"] == 69.4
    assert (out / "figures" / "xcov_npz_swap_expression.png").exists()
    report = (out / "xcov.md").read_text()
    assert "Model tfd on the user's file" in report and "69.4" in report


@pytest.mark.slow
def test_multipie_trains_from_an_npz_with_two_label_sets(tmp_path):
    sets = [("pose", 13), ("illumination", 19)]
    npz = _faces(tmp_path / "pie.npz", sets)
    out, summary = _run_cli(tmp_path, "conv_deconv_multipie", npz, "--seeds", "1",
                            "--set", "selection=accuracy")
    result = summary["npz"]
    _check_training(result, sets, seeds=1)
    assert set(result["test"]) == {"accuracy", "accuracy_illumination", "accuracy_pose",
                                   "reconstruction", "xcov"}
    mean = (result["test"]["accuracy_pose"]["mean"] + result["test"]["accuracy_illumination"]["mean"]) / 2
    np.testing.assert_allclose(result["test"]["accuracy"]["mean"], mean, rtol=1e-6)
    for name in ("pose", "illumination"):
        assert (out / "figures" / f"xcov_npz_swap_{name}.png").exists()


def _config(npz, **fields):
    return xcov.XCovConfig(npz=str(npz), **fields)


def test_npz_config_errors_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="model: expected one of .* need --set npz=PATH"):
        xcov.check_config(xcov.XCovConfig(model="tfd"))
    with pytest.raises(ValueError, match="study: with npz set"):
        xcov.check_config(_config("f.npz", model="tfd", study="labels"))
    with pytest.raises(ValueError, match="model: expected one of"):
        xcov.check_config(_config("f.npz", model="tfd_big"))
    xcov.check_config(_config("f.npz", model="conv_deconv_multipie"))  # accepted
    path = save_labelled_npz(tmp_path / "nosplit.npz", np.zeros((4, 48, 48), np.uint8),
                             {"expression": np.zeros(4, int)})
    with pytest.raises(ValueError, match="expected a 'split' array"):
        xt.load_npz_splits(str(path), "tfd")
