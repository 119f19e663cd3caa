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
        interpolation_alphas=(0.2, 0.8), interpolation_epochs=1)
    run_dir = RunDir(tmp_path)
    summary = broadnet.run(config, run_dir)
    assert set(summary) == set(broadnet.STUDIES) - {"all"}
    table = (tmp_path / "table.md").read_text()
    assert table.count("## ") == 6 and "83%" in table
    assert len(list((tmp_path / "figures").glob("*.png"))) == 7


def test_unknown_study_is_named():
    config = dataclasses.replace(broadnet.make_config(None), study="nope")
    with pytest.raises(ValueError, match="study"):
        broadnet.run(config, None)
