"""The registry of runnable experiments behind `jaxdis list` and `jaxdis run NAME`.

Each module of the top-level ``experiments`` package that defines ``EXPERIMENT`` (an
:class:`Experiment`) is registered; adding an experiment means adding a module, nothing else.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable

from jaxdis.runs import RunDir


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A runnable experiment.

    Attributes:
      name: what `jaxdis run NAME` calls it.
      summary: one line for `jaxdis list`.
      make_config: ``dataset -> config``: the default config (a frozen dataclass) for a dataset,
        or for the experiment's default dataset when given None.
      run: ``(config, run_dir) -> summary dict``; writes metrics and figures into ``run_dir``.
      datasets: the values `--dataset` accepts (empty: the option is not accepted).
      resolve: ``config -> config``, optional: the effective config, with presets applied and
        derived values filled in, which `jaxdis run` prints, saves and compares with a run
        folder's saved config. It must be idempotent (resolving a resolved config changes
        nothing), so a saved config resumes as it is; ``run`` may call it again.
      validate: ``config -> None``, optional: raises ValueError for a config that cannot run,
        from what is known without loading data (ranges, names, whether the data is found).
        `jaxdis run` calls it on the resolved config before it creates the run folder.
    """

    name: str
    summary: str
    make_config: Callable[[str | None], Any]
    run: Callable[[Any, RunDir], dict]
    datasets: tuple[str, ...] = ()
    resolve: Callable[[Any], Any] | None = None
    validate: Callable[[Any], None] | None = None

    def effective_config(self, config: Any) -> Any:
        """``config`` resolved (if the experiment resolves) and validated."""
        if self.resolve is not None:
            config = self.resolve(config)
        if self.validate is not None:
            self.validate(config)
        return config


def discover() -> dict[str, Experiment]:
    """Imports every module of the ``experiments`` package and returns {name: Experiment}."""
    import experiments

    found: dict[str, Experiment] = {}
    for info in sorted(pkgutil.iter_modules(experiments.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"experiments.{info.name}")
        for experiment in _experiments_of(module):
            if experiment.name in found:
                raise RuntimeError(f"experiment name {experiment.name!r} registered twice")
            found[experiment.name] = experiment
    return found


def _experiments_of(module) -> list[Experiment]:
    single = getattr(module, "EXPERIMENT", None)
    many = getattr(module, "EXPERIMENTS", ())
    return ([single] if single is not None else []) + list(many)


def get(name: str) -> Experiment:
    experiments = discover()
    if name not in experiments:
        valid = ", ".join(sorted(experiments)) or "(none registered)"
        raise KeyError(f"unknown experiment {name!r}; valid names are: {valid}")
    return experiments[name]
