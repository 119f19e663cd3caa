"""The registry of runnable experiments behind `jaxdis list` and `jaxdis run NAME`.

Experiments are found through the package entry points of the group ``jaxdis.experiments``: each
entry names an :class:`Experiment` object, ``NAME = "module:ATTRIBUTE"``. This repository's own
experiments are listed in pyproject.toml's ``[project.entry-points."jaxdis.experiments"]``.

Why entry points rather than scanning a package: the library never imports ``experiments`` by
name (the experiments depend on the library, not the other way round), and a user's own package
registers its experiments the same way, without touching jaxdis. Adding an experiment here means
adding its module and one line in pyproject.toml (then ``pip install -e .`` again, which is how
the entry points are written).
"""

from __future__ import annotations

import dataclasses
from importlib import metadata
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


ENTRY_POINT_GROUP = "jaxdis.experiments"


def discover() -> dict[str, Experiment]:
    """Loads every entry point of :data:`ENTRY_POINT_GROUP`: {name: Experiment}, by name."""
    found: dict[str, Experiment] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        experiment = entry.load()
        if not isinstance(experiment, Experiment):
            raise TypeError(f"entry point {entry.name} = {entry.value!r} of group "
                            f"{ENTRY_POINT_GROUP!r}: expected a jaxdis.registry.Experiment, got "
                            f"{type(experiment).__name__}")
        if experiment.name != entry.name:
            raise RuntimeError(f"entry point {entry.name!r} names an experiment called "
                               f"{experiment.name!r}; the two must agree")
        if experiment.name in found:
            raise RuntimeError(f"experiment name {experiment.name!r} registered twice")
        found[experiment.name] = experiment
    return dict(sorted(found.items()))


def get(name: str) -> Experiment:
    experiments = discover()
    if name not in experiments:
        valid = ", ".join(sorted(experiments)) or "(none registered)"
        raise KeyError(f"unknown experiment {name!r}; valid names are: {valid}")
    return experiments[name]
