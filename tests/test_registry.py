"""The registry: experiments are found through entry points, and the library never imports them."""

import ast
import importlib
import pathlib
import pkgutil

import experiments
from jaxdis import registry

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_experiment_module_is_registered_under_its_own_name():
    defined = {}
    for info in pkgutil.iter_modules(experiments.__path__):
        module = importlib.import_module(f"experiments.{info.name}")
        if isinstance(getattr(module, "EXPERIMENT", None), registry.Experiment):
            defined[module.EXPERIMENT.name] = module.EXPERIMENT
    found = registry.discover()
    assert found.keys() == defined.keys()  # a module missing from pyproject.toml fails here
    assert all(found[name] is defined[name] for name in defined)


def test_no_module_of_the_library_imports_experiments():
    offenders = []
    for path in (ROOT / "jaxdis").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "experiments" or n.startswith("experiments.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
