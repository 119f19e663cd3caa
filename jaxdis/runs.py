"""Run folders: every `jaxdis run` writes its config, metrics, figures and summary to one place.

Layout::

    RUN_DIR/
      config.json      the effective config: overrides and presets applied
      run.json         which experiment, and where and when the run started (provenance)
      metrics.jsonl    one JSON object per line (e.g. per seed and epoch)
      summary.json     the final table of the run
      figures/*.png
      checkpoints/     (written by the training engine)

``RunDir(path)`` creates the folder. The command line checks everything it can first (the
config, the data, :func:`check_writable`) and only then creates it, so a refused run leaves
nothing behind.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from jaxdis.config import config_to_dict


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy and jax arrays, numpy scalars
        return _to_jsonable(np.asarray(value).tolist())
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep them readable rather than lose them
    return value


class RunDir:
    """A run folder. Create with ``RunDir.create(root, name)`` or ``RunDir(path)``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "figures").mkdir(exist_ok=True)

    @classmethod
    def create(cls, root: str | os.PathLike, name: str) -> "RunDir":
        return cls(cls.new_path(root, name))

    @staticmethod
    def new_path(root: str | os.PathLike, name: str) -> Path:
        """``root/NAME-TIMESTAMP`` (with ``-2``, ``-3``... if that exists), not yet created."""
        base = Path(root) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        return path

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    def write_json(self, name: str, obj: Any) -> Path:
        """Writes ``obj`` atomically (temporary file, then rename)."""
        target = self.path / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(_to_jsonable(obj), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, target)
        return target

    def write_config(self, config: Any) -> Path:
        return self.write_json("config.json", config_to_dict(config))

    def remove_stale_temporaries(self) -> list[Path]:
        """Deletes ``*.tmp*`` files in the folder and its checkpoints/: what a process killed in
        the middle of an atomic write left behind (the finished files are intact). Returns them."""
        stale = [p for folder in (self.path, self.path / "checkpoints") if folder.is_dir()
                 for p in folder.iterdir() if ".tmp" in p.name and p.is_file()]
        for path in stale:
            path.unlink()
        return stale

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Appends one record to metrics.jsonl."""
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(_to_jsonable(record), sort_keys=True) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def started(self) -> dict[str, Any]:
        """Where and when the run in this folder started: the record ``jaxdis run`` writes in
        run.json once and keeps when another process resumes the run (the command line adds
        that process's commit to summary.json as ``resumed``); :func:`provenance` now for a
        folder without one."""
        path = self.path / "run.json"
        started = json.loads(path.read_text()).get("started") if path.is_file() else None
        return started or provenance()

    def save_figure(self, fig, name: str, dpi: int = 100) -> Path:
        """Saves a matplotlib figure as figures/NAME.png and closes it."""
        import matplotlib.pyplot as plt

        target = self.figures / f"{name}.png"
        fig.savefig(target, dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        return target


def progress(total: int, desc: str):
    """The progress bar of `jaxdis run` (tqdm). Update it once per host-side chunk (an epoch or a
    stage), never per step: a training stage runs on the device without host synchronisation."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="epoch", dynamic_ncols=True, leave=True)


def _git(*args: str) -> str | None:
    import subprocess

    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def provenance() -> dict[str, Any]:
    """Where and when a result was made: device, JAX version, date, git commit and whether the
    working tree had uncommitted changes (``dirty``; both None outside a git checkout).

    `jaxdis run` records it when a run starts (``run.json``, and the summary's ``provenance``),
    so a run that spans a commit names the code it started with; the summary adds when it
    finished."""
    import jax

    device = jax.devices()[0]
    commit = (_git("rev-parse", "--short", "HEAD") or "").strip() or None
    status = _git("status", "--porcelain") if commit else None
    return {
        "device": f"{device.platform}:{getattr(device, 'device_kind', '?')}",
        "device_count": jax.device_count(),
        "jax_version": jax.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": commit,
        "dirty": None if status is None else bool(status.strip()),
    }


def check_writable(path: str | os.PathLike) -> None:
    """Raises PermissionError, naming the folder, unless ``path`` (a run folder, existing or not)
    can be created and written; creates nothing (a probe folder is made and removed at once)."""
    import tempfile

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PermissionError(f"{path} exists and is not a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise PermissionError(f"cannot create {path}: {existing} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".jaxdis-probe-", dir=existing)
        os.rmdir(probe)
    except OSError as error:
        what = "write in" if existing == path else f"create {path}: cannot write in"
        raise PermissionError(f"cannot {what} {existing} ({error.strerror or error})") from None


def keep_run(run_path, results, name: str, markdown, strip_prefix: str = "") -> Path:
    """Keeps a finished run among committed results (for instance experiments/results/): its
    summary.json as ``results/NAME.json``, each of its figures as ``results/figures/NAME_*.png``
    (``strip_prefix`` dropped from the figure's own name), and ``results/NAME.md`` =
    ``markdown(summary, [(caption, link), ...])``, the figures linked. Returns the .md file."""
    import shutil

    run_path, results = Path(run_path), Path(results)
    summary = json.loads((run_path / "summary.json").read_text())
    (results / "figures").mkdir(parents=True, exist_ok=True)
    figures = []
    for figure in sorted((run_path / "figures").glob("*.png")):
        kept = f"{name}_{figure.name.removeprefix(strip_prefix)}"
        shutil.copyfile(figure, results / "figures" / kept)
        figures.append((figure.stem, f"figures/{kept}"))
    (results / f"{name}.json").write_text(json.dumps(summary, indent=1))
    (results / f"{name}.md").write_text(markdown(summary, figures))
    return results / f"{name}.md"
