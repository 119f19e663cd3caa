"""`jaxdis run broadnet` at toy scale: every study runs end to end and writes its table and
figures (slow: it compiles every study; run with -m slow)."""

import dataclasses

import pytest

from experiments import broadnet
from jaxdis.runs import RunDir


@pytest.mark.slow
def test_every_study_runs_and_writes_table_and_figures(tmp_path):
    config = dataclasses.replace(
        broadnet.make_config(None), study="all", seeds=2, n_images=64, grbm_epochs=1,
        grbm_batch=16, posterior_samples=200, activity_units=4, activity_steps=3, exact_epochs=1,
        exact_batch=16, small_grbm_epochs=2, configuration_epochs=1, interpolation_pairs=1,
        interpolation_alphas=(0.2, 0.8), interpolation_epochs=1, sweep_sigmas=(0.5, 2.0),
        sweep_alphas=(1.0,), sweep_grbm_epochs=1, cd_variants=("samples-tweaked",),
        cd_units=2, cd_epochs=1, cd_seeds=1, cd_small_batch=16, cd_large_batch=32)
    run_dir = RunDir(tmp_path)
    summary = broadnet.run(config, run_dir)
    assert set(summary) == set(broadnet.STUDIES) - {"all"}
    table = (tmp_path / "table.md").read_text()
    assert table.count("## ") == 9 and "83%" in table
    # seven, one per sweep (Fig. 4.7, 4.8), one of CD-trained weights per dataset of section 3.5
    assert len(list((tmp_path / "figures").glob("*.png"))) == 7 + 2 + 3

    # The report is drawn from the saved summary alone: its tables are the run's table.md.
    run_dir.write_config(config)
    run_dir.write_json("summary.json", {**summary, "wall_seconds": 1.0,
                                        "provenance": {"device": "cpu:cpu", "commit": "abc"}})
    assert broadnet.main([str(tmp_path), str(tmp_path / "report.md")]) == 0
    report = (tmp_path / "report.md").read_text()
    assert table.strip() in report and "commit abc" in report
    assert (tmp_path / "report.json").exists()  # the summary with its config, beside the report
    assert broadnet.main([str(tmp_path / "report.json"), str(tmp_path / "again.md")]) == 0
    assert (tmp_path / "again.md").read_text() == report


def test_unknown_study_is_named():
    config = dataclasses.replace(broadnet.make_config(None), study="nope")
    with pytest.raises(ValueError, match="study"):
        broadnet.run(config, None)


def test_unknown_cd_variant_and_dataset_are_named():
    for field, value in (("cd_variants", ("nope",)), ("cd_datasets", ("nope",))):
        config = dataclasses.replace(broadnet.make_config(None), study="cd", **{field: value})
        with pytest.raises(ValueError, match=field):
            broadnet.run(config, None)


def test_cd_variants_are_the_stated_tweaks():
    config = broadnet.make_config(None)
    hyper = {name: broadnet.cd_variant(name, config) for name in broadnet.CD_VARIANTS}
    assert hyper["mean-field"][0].mean_field and hyper["mean-field"][1] == config.cd_large_batch
    assert not hyper["samples"][0].mean_field and hyper["samples"][1] == config.cd_small_batch
    tweaked = hyper["samples-tweaked"][0]
    assert (tweaked.momentum, tweaked.l2) == (0.9, 0.01)
    assert tweaked.bias_learning_rate == 10 * tweaked.learning_rate
    assert hyper["random-start"][0].negative_start == "random"
    assert all(h.negative_start == "reconstruction" for name, (h, _) in hyper.items()
               if name != "random-start")


def test_the_committed_broadnet_report_is_drawn_from_its_json(tmp_path):
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "experiments" / "results"
    assert broadnet.main([str(results / "broadnet.json"), str(tmp_path / "broadnet.md")]) == 0
    assert (tmp_path / "broadnet.md").read_text() == (results / "broadnet.md").read_text()
