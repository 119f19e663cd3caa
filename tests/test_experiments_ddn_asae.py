"""`jaxdis run ddn` and `jaxdis run asae`: the thesis's settings per dataset, the quick preset, and
(slow) whole runs that write metrics, figures and a summary, and resume after a kill."""

import dataclasses
import json

import numpy as np
import pytest

from experiments import asae as asae_experiment
from experiments import ddn as ddn_experiment
from jaxdis import registry
from jaxdis.config import apply_preset
from jaxdis.runs import RunDir
from jaxdis.train import runner


def test_ddn_defaults_are_section_9_4_per_dataset():
    table = {name: ddn_experiment.make_config(name) for name in ddn_experiment.DATASETS}
    arch = {name: (c.n_code, c.encoder_layers, c.predictor_layers, c.decoder_layers)
            for name, c in table.items()}
    assert arch == {"simple": (10, 1, 1, 1), "additive": (10, 2, 2, 1),
                    "occlusive": (10, 2, 3, 3), "mnist": (10, 2, 2, 2)}
    epochs = {name: (c.encoder_epochs, c.decoder_epochs, c.end_to_end_epochs)
              for name, c in table.items()}
    assert epochs == {"simple": (35, 10, 5), "additive": (60, 10, 40),
                      "occlusive": (50, 10, 50), "mnist": (20, 10, 100)}
    assert table["mnist"].alpha_end > table["mnist"].alpha  # annealed, section 9.4.4
    assert all(c.alpha == c.alpha_end == 0.1 for n, c in table.items() if n != "mnist")
    assert (table["additive"].encoder_lr, table["additive"].predictor_lr) == (1e-4, 1e-3)
    assert registry.get("ddn").datasets == ("simple", "additive", "occlusive", "mnist")
    assert registry.get("asae").datasets == ("simple", "additive")


def test_the_quick_preset_scales_down_and_refuses_a_clash():
    def resolve_preset(config):
        return apply_preset(config, ddn_experiment.PRESETS, ddn_experiment.make_config)

    config = dataclasses.replace(ddn_experiment.make_config("simple"), preset="quick")
    quick = resolve_preset(config)
    assert quick.hidden < 1000 and quick.n_train > 0
    with pytest.raises(ValueError, match="preset=quick sets hidden"):
        resolve_preset(dataclasses.replace(config, hidden=64))
    with pytest.raises(ValueError, match="preset"):
        resolve_preset(dataclasses.replace(config, preset="fast"))


TINY = dict(seeds=2, n_train=300, probe_size=100, hidden=16, encoder_epochs=2,
            decoder_epochs=1, end_to_end_epochs=2, batch_size=64, pair_recognition=False)


class _Killed(Exception):
    pass


@pytest.mark.slow
def test_a_ddn_run_writes_its_outputs_and_resumes_after_a_kill(tmp_path, monkeypatch,
                                                                capsys):
    config = dataclasses.replace(ddn_experiment.make_config("additive"), **TINY)
    whole = RunDir(tmp_path / "whole")
    summary = ddn_experiment.run(config, whole)
    records = whole.read_metrics()
    assert len(records) == 2 * (1 + 2 + 1 + 2)  # seeds x (init + epochs of the three stages)
    assert {"mi", "mi_raw", "encoding_a", "predictive_ab", "alive"} <= set(records[2])
    assert {p.name for p in whole.figures.iterdir()} >= {"mi_curves.png", "mi_raw_curves.png",
                                                        "cross_plot.png",
                                                        "reconstructions_seed0.png"}
    for field in ("final_mi_per_seed", "final_mi_raw_per_seed", "disentanglement_per_seed",
                  "disentanglement_chance_per_seed", "cause_recovery_per_seed"):
        assert len(summary[field]) == 2, field
    assert np.asarray(summary["disentanglement_matrix_per_seed"]).shape == (2, 2, 2)
    assert 0 < summary["disentanglement_oracle"] <= 1
    assert summary["nonfinite_seeds"] == []

    killed = RunDir(tmp_path / "killed")
    save = runner.checkpoint.save_checkpoint
    calls = []

    def save_then_die(*args, **kwargs):
        save(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:  # killed after the third epoch (the decoder stage)
            raise _Killed

    monkeypatch.setattr(runner, "CHECKPOINT_SECONDS", 0)  # a checkpoint after every epoch
    monkeypatch.setattr(runner.checkpoint, "save_checkpoint", save_then_die)
    with pytest.raises(_Killed):
        ddn_experiment.run(config, killed)
    monkeypatch.setattr(runner.checkpoint, "save_checkpoint", save)
    resumed = ddn_experiment.run(config, killed)
    assert "resuming from stage 3 of 3 (end_to_end), epoch 1 of 2" in capsys.readouterr().out
    assert resumed["resumed"] and not summary["resumed"]
    assert killed.read_metrics() == records
    np.testing.assert_array_equal(resumed["final_mi_per_seed"], summary["final_mi_per_seed"])


@pytest.mark.slow
def test_an_asae_run_through_the_cli(tmp_path):
    from jaxdis import cli

    out = tmp_path / "asae"
    code = cli.main(["run", "asae", "--dataset", "additive", "--seeds", "2", "--out", str(out),
                     "--set", "n_train=300", "--set", "probe_size=100", "--set", "hidden=16",
                     "--set", "epochs=2", "--set", "batch_size=64",
                     "--set", "pair_recognition=false"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["alive_seeds"] == 2 and len(summary["final_mi_per_seed"]) == 2
    assert len(summary["final_mi_raw_per_seed"]) == len(summary["disentanglement_per_seed"]) == 2
    assert (out / "figures" / "mi_curves.png").exists()
