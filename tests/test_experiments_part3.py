"""experiments/part3.py: the table of every thesis ch. 8-9 setting and ablation."""

import dataclasses

import numpy as np
import pytest

from experiments import part3
from jaxdis.config import apply_overrides

REQUIRED = {  # issue 7's settings and ablations
    "asae-simple-2", "asae-simple-10", "asae-additive-10", "ddn-simple", "ddn-simple-no-finetune",
    "ddn-additive", "ddn-occlusive", "ddn-mnist", "ddn-simple-equal-lr", "asae-simple-2-adam",
    "asae-simple-2-sgd", "asae-simple-2-low-lr", "ddn-simple-shared-encoder",
    "ddn-simple-stage1-reconstruction", "ddn-additive-shallow", "ddn-additive-deep",
    "ddn-additive-xcov"}


def test_every_setting_of_the_issue_is_a_row_with_a_claim_and_a_source():
    assert REQUIRED <= set(part3.SETTING_NAMES)
    assert len(part3.SETTING_NAMES) == len(set(part3.SETTING_NAMES))
    for setting in part3.SETTINGS:
        assert setting.claim and setting.source, setting.name


@pytest.mark.parametrize("scale", ["thesis", "cpu"])
@pytest.mark.parametrize("setting", part3.SETTINGS, ids=lambda s: s.name)
def test_each_rows_command_rebuilds_exactly_its_config(setting, scale):
    """The command printed beside a row, parsed as the CLI parses it, gives the row's config."""
    config = dataclasses.replace(part3.Part3Config(), scale=scale, seeds=7)
    module, run_config = part3.setting_config(setting, config)
    words = part3.command(setting, run_config).split()
    assert words[:5] == ["jaxdis", "run", setting.experiment, "--dataset", setting.dataset]
    overrides = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
    seeds = int(words[words.index("--seeds") + 1])
    rebuilt = apply_overrides(module.make_config(setting.dataset), overrides + [f"seeds={seeds}"])
    assert rebuilt == run_config
    for field, value in setting.overrides:
        assert getattr(run_config, field) == value


def test_the_cpu_scale_halves_every_stage_and_plain_mnist_keeps_five_seeds():
    config = dataclasses.replace(part3.Part3Config(), scale="cpu", seeds=30)
    by_name = {s.name: s for s in part3.SETTINGS}
    _, thesis = part3.setting_config(by_name["ddn-additive"], part3.Part3Config())
    _, cpu = part3.setting_config(by_name["ddn-additive"], config)
    assert (thesis.encoder_epochs, thesis.decoder_epochs, thesis.end_to_end_epochs) == (60, 10, 40)
    assert (cpu.encoder_epochs, cpu.decoder_epochs, cpu.end_to_end_epochs) == (30, 5, 20)
    assert cpu.hidden == part3.CPU_SCALE["hidden"] and thesis.hidden == 1000
    _, mnist = part3.setting_config(by_name["ddn-mnist"], config)
    assert mnist.seeds == part3.MNIST_SEEDS
    _, no_finetune = part3.setting_config(by_name["ddn-simple-no-finetune"], config)
    assert no_finetune.end_to_end_epochs == 0
    with pytest.raises(ValueError, match="scale"):
        part3.setting_config(by_name["ddn-simple"], dataclasses.replace(config, scale="tiny"))


def test_a_row_counts_disentangled_seeds_by_the_score_and_the_thesis_rule_on_raw_mi():
    setting = part3.SETTINGS[0]
    summary = {"seeds": 4, "alive_seeds": 4, "final_mi_per_seed": [0.5, 0.2, 0.3, 1.0],
               "final_mi_raw_per_seed": [0.05, 0.2, 0.09, 1.0],
               "disentanglement_per_seed": [0.3, 0.01, 0.2, np.nan],
               "disentanglement_chance_per_seed": [0.01, 0.0, 0.02, np.nan],
               "label_disentanglement_per_seed": [0.5, 0.0, 0.4, np.nan],
               "disentanglement_oracle": 0.4, "unhealthy_code_seeds": [1, 3],
               "nonfinite_seeds": [3],
               "probe_reconstruction_per_seed": [10.0, 11.0, 12.0, 13.0],
               "pair_recognition_per_seed": [0.9, 0.1, 0.5, 0.49],
               "cause_recovery_per_seed": [0.8, 0.1, 0.5, 0.4],
               "train_seconds": 3.0, "device": "cpu"}
    row = part3.row_of(setting, summary, part3.Part3Config(), "jaxdis run asae",
                       code_std=np.array([0.3, 0.005, 0.2, 0.0]))
    assert row["seeds_collapsed"] == 2
    assert row["seeds_below_mi_threshold"] == 2  # the thesis's rule reads the raw estimate
    assert row["seeds_disentangled"] == 2  # 0.3 and 0.2 reach half the ceiling 0.4; NaN not
    assert row["final_mi"]["median"] == pytest.approx(np.median([0.5, 0.2, 0.3, 1.0]))
    assert row["disentanglement"]["median"] == pytest.approx(0.2)  # NaN seed left out
    text = part3.report(part3.Part3Config(), [dict(row, figures=[])],
                        {"device": "cpu", "date": "today", "commit": "abc"})
    assert "| 0.40 | " in text and "| 2/4 (1 NaN) | " in text and "| 2/4 | " in text
    assert setting.claim in text and "jaxdis run asae" in text


def test_unknown_settings_are_refused_by_name(tmp_path):
    from jaxdis.runs import RunDir

    config = dataclasses.replace(part3.Part3Config(), settings=("ddn-simple", "ddn-typo"))
    with pytest.raises(ValueError, match="ddn-typo"):
        part3.run(config, RunDir(tmp_path))


def test_the_report_is_redrawn_from_the_rows_folders(tmp_path):
    from jaxdis.runs import RunDir

    config = dataclasses.replace(part3.Part3Config(), settings=("ddn-simple",), seeds=2)
    sub = RunDir(tmp_path / "ddn-simple")
    sub.write_json("summary.json", {
        "seeds": 2, "alive_seeds": 2, "final_mi_per_seed": [0.5, 9.0],
        "final_mi_raw_per_seed": [0.05, 9.0], "disentanglement_per_seed": [0.3, 0.0],
        "disentanglement_chance_per_seed": [0.0, 0.0], "disentanglement_oracle": 0.5,
        "label_disentanglement_per_seed": [0.3, 0.0], "unhealthy_code_seeds": [1],
        "nonfinite_seeds": [],
        "probe_reconstruction_per_seed": [10.0, 11.0], "pair_recognition_per_seed": [0.7, 0.0],
        "cause_recovery_per_seed": [0.6, 0.0], "train_seconds": 5.0, "device": "cpu",
        "resumed": True})
    for seed, spread in enumerate([0.2, 0.001]):
        sub.log_metrics({"seed": seed, "stage": "encoders", "code_a_std": spread / 100,
                         "code_b_std": 0.3})
        sub.log_metrics({"seed": seed, "stage": "end_to_end", "code_a_std": spread,
                         "code_b_std": 0.3})
    (sub.figures / "mi_curves.png").write_bytes(b"png")
    part3.write_report(config, RunDir(tmp_path))
    text = (tmp_path / "report.md").read_text()
    assert "| 1/2 | " in text and "(resumed)" in text
    assert "| 2 / 1 |" in text  # both collapsed in stage 1, one at the end
    assert "figures/part3_ddn-simple_mi_curves.png" in text
    assert (tmp_path / "figures" / "part3_ddn-simple_mi_curves.png").exists()


def test_the_reading_rows_are_one_field_from_the_thesis_row_and_not_run_by_default():
    assert len(set(part3.ALL_NAMES)) == len(part3.ALL_NAMES)
    assert not set(part3.Part3Config().settings) & {s.name for s in part3.READINGS}
    thesis = {s.dataset: part3.setting_config(s, part3.Part3Config())[1] for s in part3.SETTINGS
              if s.experiment == "ddn" and s.overrides == (part3.HEAVY_BALL,)}
    for setting in part3.READINGS:
        assert setting.ablation  # reported as not the thesis's rows
        _, config = part3.setting_config(setting, part3.Part3Config())
        changed = {f.name for f in dataclasses.fields(config)
                   if getattr(config, f.name) != getattr(thesis[setting.dataset], f.name)}
        assert changed == {name for name, _ in setting.overrides}, setting.name
    config = dataclasses.replace(part3.Part3Config(), settings=("ddn-simple-decay-batch",),
                                 title="Readings")
    assert [s.name for s in part3.chosen_settings(config)] == ["ddn-simple-decay-batch"]
    assert part3.report(config, [], {"device": "cpu", "date": "d", "commit": "c"}).startswith(
        "# Readings")
