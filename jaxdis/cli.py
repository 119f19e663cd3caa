"""The `jaxdis` command: `jaxdis list`, `jaxdis data info`, `jaxdis run NAME ...`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

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
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _cmd_run(args) -> int:
    from jaxdis import registry
    from jaxdis.runs import RunDir

    experiment = registry.get(args.name)
    if args.dataset is not None and args.dataset not in experiment.datasets:
        valid = ", ".join(experiment.datasets) or "(this experiment takes no --dataset)"
        raise ValueError(f"--dataset {args.dataset!r} is not valid for {args.name}; valid: {valid}")
    if args.resume:
        # A resumed run keeps the config it was started with; only the folder is given.
        if args.out or args.set or args.seeds is not None or args.dataset is not None:
            raise ValueError("--resume takes the run folder's saved config; drop the other options")
        run_dir = RunDir(_existing_dir(args.resume))
        saved = run_dir.path / "config.json"
        if not saved.exists():
            raise FileNotFoundError(f"--resume {args.resume}: no config.json in that folder")
        dataset = json.loads(saved.read_text()).get("dataset")
        config = config_lib.load_config(experiment.make_config(dataset), saved)
        return _start(args.name, experiment, config, run_dir)
    config = experiment.make_config(args.dataset)
    fields = {f.name for f in dataclasses.fields(config)}
    overrides = list(args.set)
    if args.seeds is not None:
        if "seeds" not in fields:
            raise ValueError(f"--seeds: {args.name} has no seed axis")
        if args.seeds < 1:
            raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
        overrides.append(f"seeds={args.seeds}")
    config = config_lib.apply_overrides(config, overrides)
    run_dir = RunDir(args.out) if args.out else RunDir.create("runs", args.name)
    return _start(args.name, experiment, config, run_dir)


def _existing_dir(path: str) -> str:
    if not os.path.isdir(path):
        raise FileNotFoundError(f"--resume {path}: no such run folder")
    return path


def _start(name, experiment, config, run_dir) -> int:
    from jaxdis.runs import provenance

    print(f"jaxdis run {name}: config")
    print(config_lib.format_config(config))
    print(f"writing to {run_dir.path}")
    run_dir.write_config(config)
    start = time.perf_counter()
    summary = experiment.run(config, run_dir)
    wall = time.perf_counter() - start
    summary = dict(summary or {})
    summary.setdefault("wall_seconds", wall)
    summary.setdefault("provenance", provenance())
    run_dir.write_json("summary.json", summary)
    print(f"done in {wall:.1f} s; results in {run_dir.path}")
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

    run = commands.add_parser("run", help="run an experiment (see `jaxdis list`)")
    run.add_argument("name", help="the experiment, as `jaxdis list` names it")
    run.add_argument("--seeds", type=int, default=None, help="number of seeds trained together")
    run.add_argument("--dataset", default=None, help="the dataset (per experiment, see `list`)")
    run.add_argument("--out", default=None, help="run folder (default runs/NAME-TIMESTAMP)")
    run.add_argument("--resume", default=None, metavar="RUN_DIR",
                     help="continue a killed run from its last checkpoint")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field; repeatable")
    run.set_defaults(handler=_cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (KeyError, ValueError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"jaxdis: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    sys.exit(main())
