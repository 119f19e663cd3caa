"""The XCov experiment (experiments/xcov.py): config errors, the registry, the whole run at a
tiny scale, resuming a killed run phase by phase, Table 2 assembled from summaries. The model's
training is tested in tests/test_train_xcov.py."""

import dataclasses
import json

import numpy as np
import pytest

from experiments import xcov
from jaxdis import cli
from jaxdis.train import xcov as xt


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="study: expected one of"):
        xcov.check_config(xcov.XCovConfig(study="tabel2"))
    with pytest.raises(ValueError, match="model: expected one of"):
        xcov.check_config(xcov.XCovConfig(model="tfd"))
    with pytest.raises(ValueError, match="selection: expected one of"):
        xcov.check_config(xcov.XCovConfig(selection="loss"))
    with pytest.raises(ValueError, match=r"patience: expected >= 0 \(0 = off\)"):
        xcov.check_config(xcov.XCovConfig(patience=-1))


def test_registered_with_the_cli():
    from jaxdis import registry

    experiment = registry.get("xcov")
    config = experiment.make_config(None)
    assert config.dataset == "mnist" and config.seeds >= 1


@pytest.mark.slow
def test_the_whole_experiment_runs_at_a_tiny_scale(tmp_path):
    import dataclasses

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


def _digits(n, seed):
    """MNIST-shaped stand-ins: class-dependent brightness, ten classes, n examples."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int32) % 10
    images = np.clip(rng.random((n, 28, 28)) * 0.5 + labels[:, None, None] / 20, 0, 1)
    return images.astype(np.float32), labels


class _Killed(Exception):
    pass


def test_a_run_killed_after_its_first_phase_resumes_to_the_uninterrupted_results(
        tmp_path, monkeypatch, capsys):
    splits = {"train": _digits(100, 0), "validation": _digits(40, 1), "test": _digits(40, 2)}
    monkeypatch.setattr(xt, "load_splits", lambda *args: dict(splits))
    args = ["run", "xcov", "--seeds", "1", "--set", "study=labels", "--set", "batch_size=20",
            "--set", "labelled_per_class=2,3", "--set", "labels_epochs=2"]
    phases = ["labels_with_unlabelled_2", "labels_only_2", "labels_with_unlabelled_3",
              "labels_only_3"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert cli.main(args + ["--out", str(whole)]) == 0

    # Killed in the second phase, right after its first epoch's checkpoint (one per epoch here).
    from jaxdis.train import checkpoint, runner

    monkeypatch.setattr(runner, "CHECKPOINT_SECONDS", 0.0)
    save, saves = checkpoint.save_checkpoint, []

    def killed_after_the_third_save(*a, **k):
        save(*a, **k)
        saves.append(a[0])
        if len(saves) == 3:  # phase 1's two epochs, then phase 2's first
            raise _Killed

    monkeypatch.setattr(checkpoint, "save_checkpoint", killed_after_the_third_save)
    with pytest.raises(_Killed):
        cli.main(args + ["--out", str(killed)])
    monkeypatch.setattr(checkpoint, "save_checkpoint", save)
    assert not (killed / "summary.json").exists()
    capsys.readouterr()
    assert cli.main(args + ["--out", str(killed)]) == 0  # the same --out: continued
    out = capsys.readouterr().out
    assert "holds an unfinished run of this same config: continuing it" in out
    assert f"{phases[0]} (1 models): resuming from the checkpoint at the end of training" in out
    assert f"{phases[1]} (1 models): resuming from stage 1 of 1 (xcov), epoch 2 of 2" in out
    for phase in phases:  # every phase: the runner's records and a checkpoint at its end
        records = [json.loads(line) for line in (killed / phase / "metrics.jsonl").open()]
        assert records == [json.loads(line) for line in (whole / phase / "metrics.jsonl").open()]
        assert {"stage", "epoch", "global_epoch", "seed"} <= set(records[-1])
        assert (killed / phase / "checkpoints" / "state.msgpack").exists()
    results = [json.loads((path / "summary.json").read_text())["labels"] for path in (whole, killed)]
    assert results[0] == results[1]
    # The summary says where the run started, not where it was resumed (run.json keeps that).
    started = json.loads((killed / "run.json").read_text())["started"]
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["provenance"]["date"] == started["date"]


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
        "provenance": {"device": "cpu:cpu", "commit": "abc1234"}, "wall_seconds": 300.2}
    report = xcov.table2_report({"xcov_conv_mnist.json": summary})
    row = [line for line in report.splitlines() if line.startswith("| conv_mnist")]
    assert row == ["| conv_mnist | 98.71 | 95.12 ± 0.11 | 94.33 ± 0.22 | 2 | 3 | 10000 | 1, 10, 10 "
                   "| reconstruction | off | 2 | cpu:cpu, abc1234; 120, 300 | xcov_conv_mnist.md |"]
    assert "- xcov_conv_mnist.md: `jaxdis run xcov --set model=conv_mnist`" in report
    curves = {"validation_accuracy": [[0.9, 0.95]] * 2}  # stopped early: the epochs it trained
    summary["table2"]["rows"]["gamma=10"]["validation_curve"] = curves
    assert "| 2 | 2 | 10000 |" in xcov.table2_report({"xcov_conv_mnist.json": summary})


def test_a_kept_report_links_its_figures_and_says_where_training_stopped(tmp_path):
    """``python -m experiments.xcov report RUN NAME RESULTS``: NAME.md, NAME.json, figures."""
    config = dataclasses.asdict(xcov.make_config("mnist"))
    config.update(study="table2", epochs=150, patience=10, selection="accuracy")
    stats = {"mean": 0.98, "std": 0.001, "per_seed": [0.979, 0.981]}
    row = {"validation_accuracy": stats, "test_accuracy": stats, "test_reconstruction": stats,
           "test_xcov": stats, "best_epoch": [30, 40],
           "validation_curve": {"validation_accuracy": [[0.97] * 65] * 2}}
    ablation = {"test_xcov": 1e-3, "probe_accuracy_from_z": 0.12, "z_std": 0.61,
                "test_accuracy": 0.975}
    summary = {"config": config, "wall_seconds": 10.0,
               "provenance": {"device": "cpu:cpu", "jax_version": "0", "date": "d", "commit": "c"},
               "table2": {"rows": {"gamma=10": row}, "paper": xcov.PAPER_TABLE2["mnist"],
                          "z_test_std": {"overall": 0.6, "per_unit": [0.6],
                                                               "paper": xcov.PAPER_Z_STD},
                          "ablation": {"gamma=10": ablation, "gamma=0": dict(ablation, z_std=0.7)},
                          "parzen": {"samples": 10, "test_images": 10,
                                     "model": {"bandwidth": 0.2, "log_likelihood": 1.0},
                                     "train_images_upper_bound": {"bandwidth": 0.2,
                                                                  "log_likelihood": 2.0}}}}
    run = tmp_path / "run"
    (run / "figures").mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "figures" / "xcov_validation_curves.png").write_bytes(b"png")
    xcov._main(["report", str(run), "xcov_converged", str(tmp_path / "results")])
    text = (tmp_path / "results" / "xcov_converged.md").read_text()
    assert ("65 of at most 150 epochs (stopped once no model's validation accuracy had improved "
            "for 10 epochs)") in text
    assert "| gamma=0 | 1.00e-03 | 0.120 | 0.700 | 0.9750 |" in text
    assert "![xcov_validation_curves](figures/xcov_converged_validation_curves.png)" in text
    assert (tmp_path / "results" / "figures" / "xcov_converged_validation_curves.png").exists()
    kept = json.loads((tmp_path / "results" / "xcov_converged.json").read_text())
    assert kept == json.loads(json.dumps(summary))
