"""The `jaxdis` command: `jaxdis list`, `jaxdis data info`, `jaxdis run NAME ...`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from jaxdis import config as config_lib


def _cmd_list(args) -> int:
    from jaxdis import registry

    experiments = registry.discover()
    if not experiments:
        print("no experiments registered")
        return 0
    width = max(len(n) for n in experiments)
    for name, experiment in sorted(experiments.items()):
        datasets = f"  [--dataset {'|'.join(experiment.datasets)}]" if experiment.datasets else ""
        print(f"{name:<{width}}  {experiment.summary}{datasets}")
    return 0


def _cmd_data_info(args) -> int:
    from jaxdis import data

    rows = data.describe_sources(data_dir=args.data_dir)
    headers = ("dataset", "source", "found", "location")
    table = [headers] + [
        (r["dataset"], r["source"], "yes" if r["found"] else "no", str(r["location"])) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    indent = " " * (widths[0] + 2)
    print("  ".join(cell.ljust(w) for cell, w in zip(headers, widths)).rstrip())
    for row, cells in zip(rows, table[1:]):
        print("  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip())
        if row["files"]:
            name_width = max(len(f["name"]) for f in row["files"])
            for f in row["files"]:
                print(f"{indent}{f['name'].ljust(name_width)}  {f['status']}: {f['detail']}")
    print("found: the loader would use that source (every file valid and of that dataset); each "
          "file: valid, missing, truncated, corrupt (damaged gzip) or foreign (not that "
          "dataset's IDX file).")
    return 0


def _cmd_run(args) -> int:
    from jaxdis import registry

    if args.help:
        return _run_help(args)
    if args.name is None:
        raise ValueError("run: the experiment's NAME is required (see `jaxdis list`)")
    experiment = registry.get(args.name)
    if args.dataset is not None and args.dataset not in experiment.datasets:
        valid = ", ".join(experiment.datasets) or "(this experiment takes no --dataset)"
        raise ValueError(f"--dataset {args.dataset!r} is not valid for {args.name}; valid: {valid}")
    # Everything is checked before the run folder is touched: a refused run writes nothing.
    if args.resume:
        # A resumed run keeps the config it was started with; only the folder is given.
        if args.out or args.set or args.seeds is not None or args.dataset is not None:
            raise ValueError("--resume takes the run folder's saved config; drop the other options")
        path = Path(_existing_dir(args.resume))
        saved = _saved_config(path)
        if saved is None:
            raise FileNotFoundError(f"--resume {args.resume}: no config.json in that folder")
        _check_same_experiment(path, args.name)
        config = config_lib.apply_overrides(experiment.make_config(saved.get("dataset")), saved)
        config = experiment.effective_config(config)
        from jaxdis.runs import check_writable

        check_writable(path)
        if (path / "summary.json").exists():
            print(f"the run in {path} is finished (it has its summary.json): nothing to resume")
            return 0
        print(f"resuming the run in {path} with its saved config")
        return _start(args.name, experiment, config, path)

    config = experiment.make_config(args.dataset)
    fields = {f.name for f in dataclasses.fields(config)}
    overrides = list(args.set)
    if args.seeds is not None:
        if "seeds" not in fields:
            raise ValueError(f"--seeds: {args.name} has no seed axis")
        if args.seeds < 1:
            raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
        overrides.append(f"seeds={args.seeds}")
    config = experiment.effective_config(config_lib.apply_overrides(config, overrides))
    from jaxdis.runs import RunDir, check_writable

    path = Path(args.out) if args.out else RunDir.new_path("runs", args.name)
    check_writable(path)
    saved = _saved_config(path)
    if saved is not None:
        _check_same_experiment(path, args.name)
        differences = config_lib.config_differences(saved, config)
        if differences:
            listed = "; ".join(f"{name}: {_json(old)} there, {_json(new)} here"
                               for name, old, new in differences)
            raise ValueError(
                f"--out {path} holds a run with another config ({listed}). Nothing was "
                f"changed. Continue that run as it was with `jaxdis run {args.name} --resume "
                f"{path}`, or give another --out.")
        if (path / "summary.json").exists():
            print(f"{path} holds a finished run of this same config: nothing to do (give "
                  "another --out to run it again)")
            return 0
        print(f"{path} holds an unfinished run of this same config: continuing it")
    elif path.is_dir() and any(path.iterdir()):
        raise ValueError(f"--out {path} is a folder that holds files but no run (no "
                         "config.json); give an empty or new folder")
    return _start(args.name, experiment, config, path)


def _existing_dir(path: str) -> str:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"--resume {path}: no such run folder")
    return path


def _saved_config(path: Path) -> dict | None:
    target = path / "config.json"
    if not target.is_file():
        return None
    try:
        return json.loads(target.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{target} is not valid JSON ({error}); not a run folder to continue"
                         ) from None


def _check_same_experiment(path: Path, name: str) -> None:
    info = path / RUN_INFO
    if info.is_file():
        recorded = json.loads(info.read_text()).get("experiment")
        if recorded not in (None, name):
            raise ValueError(f"{path} holds a run of {recorded!r}, not {name!r}")


def _json(value) -> str:
    return json.dumps(value)


RUN_INFO = "run.json"


def _start(name, experiment, config, path) -> int:
    from jaxdis.runs import RunDir, provenance

    now = provenance()
    info_path = Path(path) / RUN_INFO
    info = json.loads(info_path.read_text()) if info_path.is_file() else None
    older = info is None and (Path(path) / "config.json").is_file()  # from before run.json
    print(f"jaxdis run {name}: the effective config (saved as config.json; the meaning of every "
          f"field: `jaxdis run {name} --help`)")
    print(config_lib.describe_fields(config))
    print(f"writing to {path}")
    run_dir = RunDir(path)  # created only now, after every check
    stale = run_dir.remove_stale_temporaries()
    if stale:
        print(f"removed {len(stale)} half-written file(s) a killed run left: "
              f"{', '.join(p.name for p in stale)}")
    run_dir.write_config(config)
    if info is None:  # a new run: where and when it started, kept across resumes
        info = {"experiment": name, "started": None if older else now}
        run_dir.write_json(RUN_INFO, info)
    start = time.perf_counter()
    summary = experiment.run(config, run_dir)
    wall = time.perf_counter() - start
    summary = dict(summary or {})
    summary.setdefault("wall_seconds", wall)
    where = dict(summary.get("provenance") or info.get("started") or now)
    where["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    if info.get("started") and info["started"] != now:
        where["resumed"] = {k: now.get(k) for k in ("date", "commit", "dirty")}
    elif info.get("started") is None and "provenance" not in summary:
        where["note"] = ("the run started before jaxdis recorded run.json: this is where and "
                         "when it was continued, not started")
    summary["provenance"] = where
    run_dir.write_json("summary.json", summary)
    print(f"done in {wall:.1f} s; results in {run_dir.path}")
    return 0


def _run_help(args) -> int:
    from jaxdis import registry

    print(args.run_parser.format_help().rstrip())
    if args.name is None:
        print("\nGive an experiment's NAME (`jaxdis list`) to see its config fields.")
        return 0
    experiment = registry.get(args.name)
    dataset = args.dataset
    if dataset is not None and dataset not in experiment.datasets:
        valid = ", ".join(experiment.datasets) or "(this experiment takes no --dataset)"
        raise ValueError(f"--dataset {dataset!r} is not valid for {args.name}; valid: {valid}")
    config = experiment.make_config(dataset)
    which = (f" for --dataset {dataset or getattr(config, 'dataset', experiment.datasets[0])}"
             f" (another --dataset may change them)" if experiment.datasets else "")
    print(f"\nconfig fields of {args.name}: set any with --set FIELD=VALUE "
          f"(tuples: comma separated); defaults{which}:\n")
    print(config_lib.describe_fields(config, full=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxdis",
        description="Disentangled representations in JAX: list and run experiments, inspect data.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    list_parser = commands.add_parser("list", help="list the runnable experiments")
    list_parser.set_defaults(handler=_cmd_list)

    data_parser = commands.add_parser("data", help="inspect datasets")
    data_commands = data_parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data_commands.required = True
    info = data_commands.add_parser("info", help="which datasets are found where")
    info.add_argument("--data-dir", default=None, help="a directory of IDX files to look in first")
    info.set_defaults(handler=_cmd_data_info)

    run = commands.add_parser(
        "run", help="run an experiment (see `jaxdis list`)", add_help=False,
        description="Run an experiment in a run folder. An --out that holds a run is continued "
                    "only when this config is the same as the one saved there; --resume "
                    "continues a run with its saved config. `jaxdis run NAME --help` lists "
                    "NAME's config fields.")
    run.add_argument("-h", "--help", action="store_true",
                     help="show this help and, with NAME, every config field of NAME")
    run.add_argument("name", nargs="?", help="the experiment, as `jaxdis list` names it")
    run.add_argument("--seeds", type=int, default=None, help="number of seeds trained together")
    run.add_argument("--dataset", default=None, help="the dataset (per experiment, see `list`)")
    run.add_argument("--out", default=None, help="run folder (default runs/NAME-TIMESTAMP)")
    run.add_argument("--resume", default=None, metavar="RUN_DIR",
                     help="continue a killed run from its last checkpoint")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field; repeatable")
    run.set_defaults(handler=_cmd_run, run_parser=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (KeyError, ValueError, OSError) as error:  # OSError: unreadable, unwritable paths
        if isinstance(error, BrokenPipeError):  # output piped into `head` and the like
            sys.stderr = open(os.devnull, "w")
            return 0
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"jaxdis: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
