"""The Forced Apart experiment: its config is checked field by field, `jaxdis run forced-apart`
runs end to end, and a run killed between its training phases resumes to the uninterrupted
result (the objectives and training are tested in test_train_forced_apart.py)."""

import dataclasses
import json

import numpy as np
import pytest

from experiments import forced_apart as fa
from jaxdis.config import apply_overrides


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="dataset"):
        fa.make_config("cifar")
    with pytest.raises(ValueError, match="losses"):
        fa.validate(dataclasses.replace(fa.make_config("mnist"), losses=("dropout",)))
    with pytest.raises(ValueError, match="model"):
        fa.validate(dataclasses.replace(fa.make_config("mnist"), model="vgg"))
    with pytest.raises(ValueError, match="patience"):  # early stopping needs model selection
        fa.validate(dataclasses.replace(fa.make_config("mnist"), patience=5))


def test_the_paper_mlp_rows_are_one_program_of_3_seeds_by_5_losses_on_all_50000_images():
    from jaxdis.train import forced_apart as fa_train

    def words(text):  # the docstrings break the command over lines
        return " ".join(text.replace("\\", " ").split())

    for dataset in ("mnist", "fashion-mnist"):
        config = apply_overrides(fa.make_config(dataset),
                                 [o for o in fa.PAPER_MLP.split() if o != "--set"])
        assert (config.model, config.train_size, config.seeds, config.losses) == (
            "mlp", 0, 3, fa.LOSSES)
        assert config.select_on_validation and config.patience > 0
        command = f"jaxdis run forced-apart --dataset {dataset} {fa.PAPER_MLP}"
        assert words(command) in words(fa_train.__doc__)
    assert words(f"jaxdis run forced-apart --dataset mnist {fa.PAPER_MLP}") in words(fa.__doc__)


@pytest.mark.slow  # about 30 s alone, two minutes on a loaded 2-core machine
def test_jaxdis_run_forced_apart_end_to_end(tmp_path):
    from jaxdis.cli import main

    status = main(["run", "forced-apart", "--dataset", "mnist", "--seeds", "2",
                   "--out", str(tmp_path),
                   "--set", "train_size=256", "--set", "eval_size=120", "--set", "epochs=1",
                   "--set", "losses=baseline,multi", "--set", "mlp_hidden=16",
                   "--set", "sweep_margins=0.1,1.0", "--set", "sweep_loss=multi",
                   "--set", "cluster_counts=2,4", "--set", "kmeans_seeds=1",
                   "--set", "batch_size=64", "--set", "select_on_validation=true"])
    assert status == 0
    summary = json.loads((tmp_path / "forced_apart_mnist_mlp.json").read_text())
    assert summary["epochs_trained"] == 1
    assert summary["selected_epochs"] == {"baseline": [1, 1], "multi": [1, 1]}
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


TINY = ["--dataset", "mnist", "--seeds", "2", "--set", "train_size=192", "--set", "eval_size=60",
        "--set", "epochs=2", "--set", "losses=baseline,single", "--set", "mlp_hidden=8",
        "--set", "sweep_margins=0.1,1.0", "--set", "sweep_loss=multi", "--set", "cluster_counts=2",
        "--set", "kmeans_seeds=1", "--set", "batch_size=64", "--set", "n_clusters=4"]


def _without_times(summary):
    return {k: v for k, v in summary.items() if k not in ("wall_seconds", "provenance")}


@pytest.mark.slow  # about a minute alone
def test_a_run_killed_after_its_first_phase_resumes_to_the_uninterrupted_result(
        tmp_path, monkeypatch, capsys):
    from jaxdis.cli import main
    from jaxdis.train import forced_apart as fa_train

    assert main(["run", "forced-apart", "--out", str(tmp_path / "whole"), *TINY]) == 0

    class Killed(Exception):
        pass

    real_sweep, calls = fa_train.train_sweep, []

    def killed_at_the_second_phase(*args, **kwargs):
        calls.append(kwargs["desc"])
        if len(calls) == 2:
            raise Killed
        return real_sweep(*args, **kwargs)

    monkeypatch.setattr(fa_train, "train_sweep", killed_at_the_second_phase)
    with pytest.raises(Killed):
        main(["run", "forced-apart", "--out", str(tmp_path / "killed"), *TINY])
    assert calls == ["table", "sweep"]
    assert not (tmp_path / "killed" / "sweep" / "metrics.jsonl").exists()
    monkeypatch.setattr(fa_train, "train_sweep", real_sweep)
    capsys.readouterr()
    assert main(["run", "forced-apart", "--out", str(tmp_path / "killed"), *TINY]) == 0
    assert "table: resuming from the checkpoint at the end of training" in capsys.readouterr().out
    for phase in ("table", "sweep"):  # every phase: the runner's records, a checkpoint
        records = (tmp_path / "killed" / phase / "metrics.jsonl").read_text()
        assert records == (tmp_path / "whole" / phase / "metrics.jsonl").read_text()
        assert {"stage", "epoch", "global_epoch", "seed"} <= set(json.loads(records.split("\n")[0]))
        assert (tmp_path / "killed" / phase / "checkpoints").is_dir()
    whole, resumed = (json.loads((tmp_path / run / "forced_apart_mnist_mlp.json").read_text())
                      for run in ("whole", "killed"))
    assert _without_times(resumed) == _without_times(whole)
