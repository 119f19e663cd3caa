"""The steps the ASAE and DDN sweeps share (jaxdis.train.two_code_sweep): a config resolved and
checked before a run folder exists, histories read back from the run folder, and a summary of
the final codes with its figures saved in order."""

import dataclasses

import numpy as np
import pytest

from jaxdis import data, metrics
from jaxdis.data import mnist as mnist_module
from jaxdis.runs import RunDir
from jaxdis.train import two_code_sweep as sweep
from jaxdis.train.asae import ASAESchedule


@dataclasses.dataclass(frozen=True)
class Config(sweep.SweepConfig):
    """A sweep's config as the experiments make one (the ASAE's fields).

    Attributes:
      n_code: code units.
      hidden: hidden units.
      epochs: epochs.
      learning_rate: rate.
      momentum: momentum.
      optimizer: optimizer.
      batch_size: batch.
      mi_k: KSG's k.
      epochs_per_call: epochs per call.
      checkpoints: checkpoints.
      pair_recognition: pair recognition.
      preset: preset.
      binarize: binarize.
    """

    n_code: int = 2
    hidden: int = 8
    epochs: int = 1
    learning_rate: float = 1e-3
    momentum: float = 0.0
    optimizer: str = "rmsprop"
    batch_size: int = 32
    mi_k: int = 3
    epochs_per_call: int = 1
    checkpoints: bool = False
    pair_recognition: bool = False
    preset: str = "thesis"
    binarize: bool = False


def make_config(dataset):
    return Config(dataset=dataset or "simple")


@pytest.fixture
def sample_only(monkeypatch, tmp_path):
    """MNIST from the shipped sample only: 8,000 training images."""
    monkeypatch.setenv("JAXDIS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(mnist_module, "_sample_warned", True)
    monkeypatch.setattr(mnist_module, "_tfds_candidate", lambda dataset: mnist_module._Candidate(
        "tfds", "not installed", False))


def test_a_config_resolves_its_preset_and_the_examples_n_train_0_stands_for(sample_only):
    presets = {"thesis": {}, "quick": {"hidden": 4, "n_train": 500}}
    assert sweep.resolve_config(Config(), presets, make_config).n_train == 4000  # pairs
    assert sweep.resolve_config(Config(dataset="mnist"), presets, make_config).n_train == 8000
    quick = sweep.resolve_config(Config(preset="quick"), presets, make_config)
    assert (quick.hidden, quick.n_train) == (4, 500)
    assert sweep.resolve_config(quick, presets, make_config) == quick


@pytest.mark.parametrize("changes, message", [
    (dict(dataset="occlusive"), r"dataset: expected one of \('simple', 'additive'\)"),
    (dict(seeds=0), r"seeds: expected an int >= 1, got 0"),
    (dict(n_train=-1), r"n_train: expected an int >= 0, got -1"),
    (dict(learning_rate=0.0), r"learning_rate: expected > 0, got 0.0"),  # from the schedule
    (dict(optimizer="lbfgs"), r"optimizer: expected 'rmsprop', 'adam' or 'sgd'"),
    (dict(probe_size=5), r"probe_size: expected at least 10, got 5"),
    (dict(n_train=100, probe_size=200),
     r"probe_size: expected between 10 and the 100 training"),
    (dict(n_train=100, probe_size=50, batch_size=128),
     r"batch_size 128 is larger than the 100 training"),
    (dict(n_train=9000),
     r"n_train=9000: the MNIST source found holds only 4000 training pairs"),
    (dict(probe_size=10, mi_k=10), r"mi_k=10 needs a probe set of more than 10 examples"),
])
def test_a_config_that_cannot_run_is_refused_naming_the_field(sample_only, changes, message):
    sweep.check_config(Config(), ASAESchedule, ("simple", "additive"))
    with pytest.raises(ValueError, match=message):
        sweep.check_config(Config(**changes), ASAESchedule, ("simple", "additive"))


def _logged_run(path, n_seeds=2, epochs=3):
    """A run folder whose metrics.jsonl holds what a two-code program logs."""
    run_dir = RunDir(path)
    rng = np.random.default_rng(0)
    for stage, n in (("init", 1), ("train", epochs)):
        for epoch in range(n):
            for seed in range(n_seeds):
                run_dir.log_metrics({"stage": stage, "epoch": epoch, "seed": seed,
                                     **{name: float(rng.random()) for name in sweep.HISTORIES}})
    return run_dir


def test_histories_come_back_per_seed_and_epoch(tmp_path):
    run_dir = _logged_run(tmp_path)
    histories = sweep.code_histories(run_dir, ("init", "train"), 2)
    assert set(histories) == set(sweep.HISTORIES)
    records = run_dir.read_metrics()
    np.testing.assert_array_equal(histories["mi"][1], [r["mi"] for r in records
                                                       if r["seed"] == 1])
    assert sweep.code_histories(run_dir, ("init",), 2)["code_a_std"].shape == (2, 1)


def test_a_summary_scores_the_codes_and_saves_the_figures_in_order(tmp_path):
    images, labels = data.load_mnist("test", source="sample")
    composite = data.make_composite("additive", images[:200], labels[:200], 100, seed=0)
    x = composite.x.reshape(100, -1)
    probe_index = np.arange(0, 100, 2)
    run_dir = _logged_run(tmp_path)
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(2, 2, 50, 3)).astype(np.float32)
    recon = np.stack([np.stack([composite.cause_a[probe_index].reshape(50, -1)] * 2),
                      np.stack([composite.cause_b[probe_index].reshape(50, -1)] * 2)])
    outputs = (codes[0], codes[1], recon[0], recon[1], recon[0] + recon[1])
    import matplotlib.pyplot as plt

    figures = {"first": plt.figure(), "second": plt.figure()}
    summary = sweep.summarise(Config(seeds=2), run_dir, ("init", "train"), composite,
                              probe_index, x, outputs, figures, "one point per seed")
    assert summary["figures"] == ["first.png", "second.png", "final_mi_vs_reconstruction.png"]
    assert all((run_dir.figures / name).exists() for name in summary["figures"])
    histories = sweep.code_histories(run_dir, ("init", "train"), 2)
    want = metrics.mi_summary(**histories, codes_a=codes[0], codes_b=codes[1])
    np.testing.assert_array_equal(summary["final_mi_per_seed"], want["final_mi_per_seed"])
    np.testing.assert_allclose(summary["probe_reconstruction_per_seed"], [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(summary["cause_recovery_per_seed"], [1.0, 1.0], atol=1e-5)
    assert len(summary["disentanglement_per_seed"]) == 2
    plain = sweep.summarise(Config(seeds=2), run_dir, ("init", "train"), None, probe_index, x,
                            outputs, {}, "plain MNIST")
    assert "disentanglement_per_seed" not in plain and len(plain["final_mi_per_seed"]) == 2


def test_the_final_code_spread_is_read_from_the_last_logged_epoch(tmp_path):
    run = RunDir(tmp_path)
    for epoch, (a, b) in enumerate([(0.3, 0.2), (0.1, 0.004)]):
        for seed in range(2):
            run.log_metrics({"seed": seed, "epoch": epoch, "code_a_std": a * (seed + 1),
                             "code_b_std": b})
    np.testing.assert_allclose(sweep.final_code_std(run, 2), [0.004, 0.004])
    assert sweep.final_code_std(RunDir(tmp_path / "asae"), 2) is None
