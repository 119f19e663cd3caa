"""The `jaxdis` command: listing, running with overrides, resuming, and its error messages."""

import dataclasses
import json
import subprocess
import sys

import pytest

from jaxdis import cli, registry


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    dataset: str = "a"
    seeds: int = 2
    learning_rate: float = 0.1
    layers: tuple[int, ...] = (3, 4)
    verbose: bool = False


def _toy_run(config, run_dir):
    for seed in range(config.seeds):
        run_dir.log_metrics({"seed": seed, "loss": config.learning_rate * seed})
    return {"seeds_run": config.seeds, "layers": list(config.layers)}


TOY = registry.Experiment(
    name="toy",
    summary="a toy experiment for the CLI tests",
    make_config=lambda dataset: ToyConfig(dataset=dataset or "a"),
    run=_toy_run,
    datasets=("a", "b"),
)

NO_SEEDS = registry.Experiment(
    name="fixed",
    summary="an experiment without a seed axis",
    make_config=lambda dataset: dataclasses.make_dataclass("Fixed", [("n", int, 1)], frozen=True)(),
    run=lambda config, run_dir: {},
)


@pytest.fixture
def toy_registry(monkeypatch):
    monkeypatch.setattr(registry, "discover", lambda: {"toy": TOY, "fixed": NO_SEEDS})


def test_list_names_every_experiment_with_its_datasets(toy_registry, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "toy" in out and "a toy experiment" in out and "--dataset a|b" in out
    assert "fixed" in out


def test_run_writes_config_metrics_and_summary(toy_registry, tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = cli.main(["run", "toy", "--dataset", "b", "--seeds", "3", "--out", str(out_dir),
                     "--set", "learning_rate=0.5", "--set", "layers=5,6,7", "--set", "verbose=yes"])
    assert code == 0
    config = json.loads((out_dir / "config.json").read_text())
    assert config == {"dataset": "b", "seeds": 3, "learning_rate": 0.5, "layers": [5, 6, 7],
                      "verbose": True}
    metrics = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["loss"] for m in metrics] == [0.0, 0.5, 1.0]
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["seeds_run"] == 3 and summary["layers"] == [5, 6, 7]
    assert summary["wall_seconds"] >= 0 and "device" in summary["provenance"]
    assert '"learning_rate": 0.5' in capsys.readouterr().out  # the config is printed


def test_resume_reuses_the_saved_config(toy_registry, tmp_path):
    out_dir = tmp_path / "run"
    assert cli.main(["run", "toy", "--out", str(out_dir), "--set", "learning_rate=0.25"]) == 0
    assert cli.main(["run", "toy", "--resume", str(out_dir)]) == 0
    config = json.loads((out_dir / "config.json").read_text())
    assert config["learning_rate"] == 0.25 and config["layers"] == [3, 4]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "nope"], "unknown experiment 'nope'; valid names are: fixed, toy"),
        (["run", "toy", "--set", "depth=3"], "--set depth: unknown config key; valid keys are: "
                                             "dataset, layers, learning_rate, seeds, verbose"),
        (["run", "toy", "--set", "seeds=many"], "--set seeds=many: expected int"),
        (["run", "toy", "--set", "verbose=maybe"], "expected a boolean"),
        (["run", "toy", "--set", "learning_rate"], "expected key=value"),
        (["run", "toy", "--dataset", "c"], "--dataset 'c' is not valid for toy; valid: a, b"),
        (["run", "toy", "--seeds", "0"], "--seeds must be at least 1"),
        (["run", "fixed", "--seeds", "2"], "--seeds: fixed has no seed axis"),
        (["run", "toy", "--resume", "/no/such/folder"], "no such run folder"),
    ],
)
def test_errors_say_what_is_valid(toy_registry, tmp_path, monkeypatch, capsys, argv, expected):
    monkeypatch.chdir(tmp_path)  # a failed run must not leave folders in the checkout
    assert cli.main(argv) == 2
    assert expected in capsys.readouterr().err


def test_help_is_available_for_every_command():
    for argv in (["--help"], ["run", "--help"], ["data", "info", "--help"], ["list", "--help"]):
        result = subprocess.run([sys.executable, "-m", "jaxdis.cli", *argv],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "usage: jaxdis" in result.stdout


def test_the_real_registry_loads_and_every_experiment_has_a_valid_default_config():
    for name, experiment in registry.discover().items():
        assert experiment.name == name
        config = experiment.make_config(None)
        assert dataclasses.is_dataclass(config)
        for dataset in experiment.datasets:
            assert dataclasses.is_dataclass(experiment.make_config(dataset))


def test_data_info_reports_where_each_dataset_is_found(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("JAXDIS_DATA_DIR", str(tmp_path))  # an empty folder: nothing found there
    assert cli.main(["data", "info"]) == 0
    rows = [line.split(None, 3) for line in capsys.readouterr().out.splitlines()[1:]]
    found = {(row[0], row[1]): row[2] for row in rows}
    assert found[("mnist", "JAXDIS_DATA_DIR")] == "no"
    assert found[("mnist", "sample")] == "yes"  # the package ships the MNIST test set
    assert found[("digits_8x8", "scikit-learn")] == "yes"


def test_data_info_finds_mnist_in_a_named_directory(capsys):
    from pathlib import Path

    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not (shared / "mnist").is_dir():
        pytest.skip("../shared/data/mnist is not beside this checkout")
    assert cli.main(["data", "info", "--data-dir", str(shared)]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("mnist") and " yes " in line and str(shared) in line
               for line in out.splitlines())
