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


@dataclasses.dataclass(frozen=True)
class SizedConfig:
    """A toy with a preset, a derived value and checks, like the DDN's.

    Attributes:
      seeds: runs.
      preset: "full", or "small": width 8 unless width is set.
      width: units; 0: derived (16 under "full").
      rate: a learning rate, > 0.
      fail_after: raise (as a kill would) after this many seeds; -1: never.
    """

    seeds: int = 2
    preset: str = "full"
    width: int = 0
    rate: float = 0.1
    fail_after: int = -1

    def __post_init__(self):
        if self.seeds > 100:
            raise ValueError(f"seeds: at most 100, got {self.seeds}")


def _resolve_sized(config):
    if config.width == 0:
        return dataclasses.replace(config, width=8 if config.preset == "small" else 16)
    return config


def _validate_sized(config):
    if not config.rate > 0:
        raise ValueError(f"rate: expected > 0, got {config.rate}")


class Killed(Exception):
    pass


def _sized_run(config, run_dir):
    done = len(run_dir.read_metrics())  # what a killed run already logged
    for seed in range(done, config.seeds):
        if seed == config.fail_after and done == 0:
            raise Killed
        run_dir.log_metrics({"seed": seed, "width": config.width})
    return {"width": config.width, "seeds_logged": len(run_dir.read_metrics())}


SIZED = registry.Experiment(name="sized", summary="a toy with a preset", make_config=lambda d:
                            SizedConfig(), run=_sized_run, resolve=_resolve_sized,
                            validate=_validate_sized)


@pytest.fixture
def toy_registry(monkeypatch):
    monkeypatch.setattr(registry, "discover",
                        lambda: {"toy": TOY, "fixed": NO_SEEDS, "sized": SIZED})


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
    assert "learning_rate = 0.5" in capsys.readouterr().out  # the config is printed


def test_resume_reuses_the_saved_config(toy_registry, tmp_path):
    out_dir = tmp_path / "run"
    assert cli.main(["run", "toy", "--out", str(out_dir), "--set", "learning_rate=0.25"]) == 0
    assert cli.main(["run", "toy", "--resume", str(out_dir)]) == 0
    config = json.loads((out_dir / "config.json").read_text())
    assert config["learning_rate"] == 0.25 and config["layers"] == [3, 4]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "nope"], "unknown experiment 'nope'; valid names are: fixed, sized, toy"),
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


def _data_info_rows(out):
    """{(dataset, source): found} from `jaxdis data info` (file lines are indented)."""
    lines = [line for line in out.splitlines()[1:] if line and not line[0].isspace()
             and not line.startswith("found:")]
    return {tuple(line.split(None, 3)[:2]): line.split(None, 3)[2] for line in lines}


def test_data_info_reports_where_each_dataset_is_found(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("JAXDIS_DATA_DIR", str(tmp_path))  # an empty folder: nothing found there
    assert cli.main(["data", "info"]) == 0
    found = _data_info_rows(capsys.readouterr().out)
    assert found[("mnist", "JAXDIS_DATA_DIR")] == "no"
    assert found[("mnist", "sample")] == "yes"  # the package ships the MNIST test set
    assert found[("digits_8x8", "scikit-learn")] == "yes"


def test_data_info_finds_mnist_in_a_named_directory(capsys, mnist):
    assert cli.main(["data", "info", "--data-dir", str(mnist.root)]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("mnist") and " yes " in line and str(mnist.files) in line
               for line in out.splitlines())
    # The same folder does not hold Fashion-MNIST: its labels are MNIST's.
    assert _data_info_rows(out)[("fashion_mnist", "data_dir")] == "no"


# ----------------------------------------------------------------------------- run folders


def _files(folder):
    """{relative path: bytes} of every file under folder: to show that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_the_effective_config_is_what_is_printed_saved_and_summarised(toy_registry, tmp_path,
                                                                      capsys):
    out = tmp_path / "run"
    assert cli.main(["run", "sized", "--out", str(out), "--set", "preset=small"]) == 0
    assert json.loads((out / "config.json").read_text())["width"] == 8  # not the 0 given
    assert "width = 8" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["width"] == 8
    # Resolving the saved, resolved config changes nothing: it resumes as it is.
    saved = SizedConfig(**json.loads((out / "config.json").read_text()))
    assert _resolve_sized(saved) == saved


def test_an_out_holding_a_run_of_another_config_is_refused_before_any_file_changes(
        toy_registry, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["run", "sized", "--out", str(out), "--set", "rate=0.5"]) == 0
    before = _files(out)
    capsys.readouterr()
    code = cli.main(["run", "sized", "--out", str(out), "--set", "rate=0.01", "--seeds", "3"])
    assert code == 2
    error = capsys.readouterr().err
    assert "another config" in error
    assert "seeds: 2 there, 3 here" in error and "rate: 0.5 there, 0.01 here" in error
    assert f"--resume {out}" in error  # says how to continue it instead
    assert _files(out) == before  # config.json and summary.json untouched


def test_a_finished_run_with_the_same_config_is_left_as_it_is(toy_registry, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["run", "sized", "--out", str(out)]) == 0
    before = _files(out)
    capsys.readouterr()
    assert cli.main(["run", "sized", "--out", str(out)]) == 0
    assert "finished run of this same config: nothing to do" in capsys.readouterr().out
    assert cli.main(["run", "sized", "--resume", str(out)]) == 0
    assert "is finished" in capsys.readouterr().out
    assert _files(out) == before


def test_a_killed_run_continues_with_the_same_config_or_with_resume_and_says_so(
        toy_registry, tmp_path, capsys):
    for how in ("same-config", "resume"):
        out = tmp_path / how
        argv = ["run", "sized", "--out", str(out), "--seeds", "4", "--set", "fail_after=2"]
        with pytest.raises(Killed):
            cli.main(argv)
        assert not (out / "summary.json").exists()
        (out / "config.json.tmp").write_text("{")  # a write the kill cut short
        capsys.readouterr()
        again = argv if how == "same-config" else ["run", "sized", "--resume", str(out)]
        assert cli.main(again) == 0
        printed = capsys.readouterr().out
        assert ("continuing it" if how == "same-config" else "resuming the run") in printed
        assert "removed 1 half-written file" in printed and not (out / "config.json.tmp").exists()
        assert json.loads((out / "summary.json").read_text())["seeds_logged"] == 4


@pytest.mark.parametrize("option", ["--set=rate=-1", "--set=seeds=101", "--set=preset"])
def test_a_refused_config_leaves_nothing_behind(toy_registry, tmp_path, capsys, option):
    # rate: the experiment's validate hook; seeds: the dataclass's __post_init__; the last one
    # is malformed. Each is refused before the run folder exists.
    out = tmp_path / "new" / "run"
    assert cli.main(["run", "sized", "--out", str(out), option]) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_a_default_run_folder_is_not_created_for_a_refused_run(toy_registry, tmp_path,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "sized", "--set", "rate=0"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_out_is_a_clear_error_not_a_traceback(toy_registry, tmp_path, capsys):
    import os

    if os.geteuid() == 0:  # root writes anywhere a permission allows; /sys refuses even root
        out = "/sys/jaxdis-test/run"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        out = str(locked / "run")
    assert cli.main(["run", "sized", "--out", out]) == 2
    error = capsys.readouterr().err
    assert error.startswith("jaxdis: error: cannot create") and "Traceback" not in error
    assert not os.path.exists(out)


def test_an_out_that_holds_other_files_is_refused(toy_registry, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert cli.main(["run", "sized", "--out", str(tmp_path)]) == 2
    assert "holds files but no run" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_an_out_holding_another_experiments_run_is_refused(toy_registry, tmp_path, capsys):
    assert cli.main(["run", "fixed", "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert cli.main(["run", "sized", "--resume", str(tmp_path / "run")]) == 2
    assert "holds a run of 'fixed', not 'sized'" in capsys.readouterr().err


def test_provenance_is_recorded_when_the_run_starts_and_the_finish_is_dated(
        toy_registry, tmp_path, monkeypatch):
    from jaxdis import runs

    calls = []

    def fake_provenance():  # a new commit between the start and the end of the run
        calls.append(1)
        return {"device": "cpu:cpu", "date": f"call {len(calls)}", "commit": f"c{len(calls)}",
                "dirty": len(calls) > 1}

    monkeypatch.setattr(runs, "provenance", fake_provenance)
    experiment = dataclasses.replace(SIZED, run=lambda config, run_dir: (fake_provenance(), {})[1])
    monkeypatch.setattr(registry, "discover", lambda: {"sized": experiment})
    out = tmp_path / "run"
    assert cli.main(["run", "sized", "--out", str(out)]) == 0
    where = json.loads((out / "summary.json").read_text())["provenance"]
    assert (where["commit"], where["date"], where["dirty"]) == ("c1", "call 1", False)
    assert "finished" in where
    assert json.loads((out / "run.json").read_text()) == {
        "experiment": "sized",
        "started": {"device": "cpu:cpu", "date": "call 1", "commit": "c1", "dirty": False}}


def test_the_real_provenance_names_the_commit_and_whether_the_tree_was_dirty():
    from jaxdis.runs import provenance

    where = provenance()
    assert {"device", "jax_version", "date", "commit", "dirty"} <= set(where)
    assert where["dirty"] in (True, False, None)


# ----------------------------------------------------------------------------- --help


def test_run_help_lists_every_config_field_with_its_default_and_meaning(toy_registry, capsys):
    assert cli.main(["run", "sized", "--help"]) == 0
    out = capsys.readouterr().out
    for line in ("seeds = 2", "preset = full", "width = 0", "rate = 0.1", "fail_after = -1"):
        assert line in out
    assert "fail_after = -1" in out and "raise (as a kill would)" in out


def test_every_field_of_every_registered_experiment_is_documented_in_its_help(capsys):
    from jaxdis.config import field_docs

    for name, experiment in registry.discover().items():
        config = experiment.make_config(None)
        docs = field_docs(type(config))
        fields = [f.name for f in dataclasses.fields(config)]
        assert [f for f in fields if not docs.get(f)] == [], f"{name}: undocumented fields"
        assert [d for d in docs if d not in fields] == [], f"{name}: docs of no field"
        assert cli.main(["run", name, "--help"]) == 0
        out = capsys.readouterr().out
        for field in fields:
            assert f"  {field} = " in out, f"{name}: {field} missing from --help"


# ----------------------------------------------------------------------------- the real ddn and asae


@pytest.mark.parametrize("sets, words", [
    (["hidden=-5"], "hidden: expected an int >= 1"),
    (["preset=quick", "hidden=64"], "preset=quick sets hidden"),
    (["n_train=3000", "probe_size=5000"], "probe_size: expected between 10 and the 3000"),
    (["n_train=999999"], "n_train=999999: the MNIST source found holds only"),
    (["encoder_lr=0"], "encoder_lr: expected > 0"),
    (["encoding=nope"], "encoding: expected one of"),
    (["dataset=nope"], "dataset: expected one of"),
])
def test_a_ddn_config_that_cannot_run_is_refused_before_the_run_folder_exists(
        tmp_path, capsys, sets, words):
    out = tmp_path / "run"
    argv = ["run", "ddn", "--out", str(out)] + [f"--set={s}" for s in sets]
    assert cli.main(argv) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


def test_the_ddn_quick_preset_is_saved_as_it_runs_and_resolves_to_itself():
    from experiments import ddn

    experiment = registry.get("ddn")
    quick = experiment.effective_config(
        dataclasses.replace(ddn.make_config("simple"), preset="quick"))
    assert (quick.hidden, quick.n_train, quick.probe_size, quick.pair_recognition) == (
        256, 4000, 1000, False)
    assert (quick.encoder_epochs, quick.decoder_epochs, quick.end_to_end_epochs) == (20, 5, 5)
    assert quick.preset == "quick"
    assert experiment.effective_config(quick) == quick  # a saved quick config resumes as it is
    # So does the config read back from config.json.
    from jaxdis.config import apply_overrides, config_to_dict

    saved = json.loads(json.dumps(config_to_dict(quick)))
    assert experiment.effective_config(apply_overrides(ddn.make_config("simple"), saved)) == quick


def test_n_train_0_is_filled_in_with_what_the_data_source_holds(monkeypatch, tmp_path):
    from experiments import asae, ddn
    from jaxdis.data import mnist as mnist_module

    monkeypatch.setenv("JAXDIS_DATA_DIR", str(tmp_path))  # empty: the shipped sample serves
    monkeypatch.setattr(mnist_module, "_tfds_candidate", lambda dataset: mnist_module._Candidate(
        "tfds", "not installed", False))
    # The sample's 8,000 training images: 4,000 composite pairs, or 8,000 plain images.
    assert registry.get("ddn").effective_config(ddn.make_config("simple")).n_train == 4000
    assert registry.get("ddn").effective_config(ddn.make_config("mnist")).n_train == 8000
    assert registry.get("asae").effective_config(asae.make_config("additive")).n_train == 4000


def test_a_resumed_run_keeps_its_start_and_names_the_resume(toy_registry, tmp_path, monkeypatch):
    from jaxdis import runs

    commits = iter(["c-start", "c-resume"])
    monkeypatch.setattr(runs, "provenance", lambda: {"date": "d", "commit": next(commits),
                                                     "dirty": False})
    out = tmp_path / "run"
    with pytest.raises(Killed):
        cli.main(["run", "sized", "--out", str(out), "--seeds", "4", "--set", "fail_after=2"])
    assert cli.main(["run", "sized", "--resume", str(out)]) == 0
    where = json.loads((out / "summary.json").read_text())["provenance"]
    assert where["commit"] == "c-start" and where["resumed"]["commit"] == "c-resume"
