"""Run folders: every `jaxdis run` writes its config, metrics, figures and summary to one place.

Layout::

    RUN_DIR/
      config.json      the full config, overrides applied
      metrics.jsonl    one JSON object per line (e.g. per seed and epoch)
      summary.json     the final table of the run
      figures/*.png
      checkpoints/     (written by the training engine)
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
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return cls(Path(root) / f"{name}-{stamp}")

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

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Appends one record to metrics.jsonl."""
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(_to_jsonable(record), sort_keys=True) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

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


def provenance() -> dict[str, Any]:
    """Where and when a result was made: device, JAX version, date, git commit (if in a checkout)."""
    import subprocess

    import jax

    device = jax.devices()[0]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "device": f"{device.platform}:{getattr(device, 'device_kind', '?')}",
        "device_count": jax.device_count(),
        "jax_version": jax.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": commit,
    }
