"""Every setting and ablation of thesis chapters 8 and 9, each a seed sweep, side by side.

``jaxdis run part3`` runs the settings below, each as one vmapped sweep of ``jaxdis run asae`` or
``jaxdis run ddn`` in its own sub-folder, and writes one table: per setting the thesis's claim,
the distribution over seeds of the final KSG mutual information I(z_a; z_b) (the thesis's
measure), of pair recognition and of cause recovery (the ground truth of :mod:`jaxdis.metrics`,
on the probe set of the composites), how many seeds count as disentangled, the wall time and the
device, plus the command that reruns the row on its own.

A seed counts (:func:`jaxdis.metrics.sweep_verdicts`) as disentangled by ours, the verdict, when
its ground-truth score (:mod:`jaxdis.metrics.code_probes`) reaches ``score_fraction`` of the
ceiling (shown with the chance level beside it), and by the thesis's rule, for comparison, when
its raw final MI is below ``mi_threshold``; pair recognition (chance about 2%) is shown beside.

``scale="thesis"`` runs the thesis's sizes (N, depths, 1000 hidden units, 25,000 pairs, its epochs;
30 seeds, 5 for plain MNIST as in section 9.4.4): the command for a GPU. ``scale="cpu"`` is the
reduced scale of ``CPU_SCALE``, stated in the report: fewer examples, narrower hidden layers
and half the epochs of every stage. ``settings`` picks rows by name (default: all).
``jaxdis run part3 --resume RUN_DIR`` reads finished rows back and resumes the unfinished one
from its last epoch checkpoint; ``python -m experiments.part3 RUN_DIR`` redraws the report.

The table also counts, for the DDN, the seeds whose smaller code has collapsed (its spread
below ``collapse_threshold``) at the end of stage 1 and of training. The last two settings are
not the thesis's: they test why our stage-1 codes collapse.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time

from experiments import asae, ddn
from jaxdis.config import config_to_dict, load_config, set_options
from jaxdis.metrics import UNHEALTHY_CODE_RULE, sweep_verdicts
from jaxdis.registry import Experiment
from jaxdis.runs import RunDir, provenance
from jaxdis.train.two_code_sweep import final_code_std, last_logged

MODULES = {"asae": asae, "ddn": ddn}  # the experiment each row runs, by name


@dataclasses.dataclass(frozen=True)
class Setting:
    """One row: ``jaxdis run EXPERIMENT --dataset DATASET`` with ``overrides``."""

    name: str
    experiment: str                 # "asae" or "ddn"
    dataset: str
    overrides: tuple = ()           # (field, value) pairs on top of the dataset's defaults
    claim: str = ""                 # what the thesis reports, in its words where it has them
    source: str = ""                # section and figures
    ablation: bool = False


# The thesis's DDN rows were run with the heavy-ball reading of section 9.3's optimizer (the
# default until the decay reading replaced it; see jaxdis.train.ddn), and keep it so that their
# reports and rerun commands stay the runs behind them.
HEAVY_BALL = ("rmsprop", "heavy-ball")

SETTINGS = (
    Setting("asae-simple-2", "asae", "simple", (),
            "runs split: MI near 0 exactly when disentangled by eye", "8.5, Fig. 8.3-8.5"),
    Setting("asae-simple-10", "asae", "simple", (("n_code", 10),),
            "4 of 30 runs disentangled", "8.5, Fig. 8.6-8.8"),
    Setting("asae-additive-10", "asae", "additive", (),
            "runs below the mean MI show some disentangling; none reaches zero MI",
            "8.5, Fig. 8.9, 8.10"),
    Setting("ddn-simple", "ddn", "simple", (HEAVY_BALL,),
            "every run disentangled", "9.4.1, Fig. 9.5-9.7"),
    Setting("ddn-simple-no-finetune", "ddn", "simple", (HEAVY_BALL, ("end_to_end_epochs", 0)),
            "disentangled as well as with fine-tuning; reconstructions somewhat worse",
            "9.4.1, Fig. 9.8"),
    Setting("ddn-additive", "ddn", "additive", (HEAVY_BALL,),
            "every run: small MI, each cause's digit visible", "9.4.2, Fig. 9.9-9.11"),
    Setting("ddn-occlusive", "ddn", "occlusive", (HEAVY_BALL,),
            "final MI slightly above additive, still near zero; one cause per network",
            "9.4.3, Fig. 9.12-9.14"),
    Setting("ddn-mnist", "ddn", "mnist", (HEAVY_BALL,),
            "final MI -0.01; consistently low over 5 runs", "9.4.4, Fig. 9.15"),
    Setting("ddn-simple-equal-lr", "ddn", "simple", (HEAVY_BALL, ("encoder_lr", 1e-3)),
            "equal learning rates: the encoder evades the predictor", "9.2.2, Fig. 9.4", True),
    Setting("asae-simple-2-adam", "asae", "simple", (("optimizer", "adam"),),
            "Adam consistently less successful than RMSprop", "8.6", True),
    Setting("asae-simple-2-sgd", "asae", "simple", (("optimizer", "sgd"), ("momentum", 0.9)),
            "SGD consistently less successful than RMSprop", "8.6", True),
    Setting("asae-simple-2-low-lr", "asae", "simple", (("learning_rate", 1e-4),),
            "lower learning rates lead to worse disentangling", "8.6, Fig. 8.11", True),
    Setting("ddn-simple-shared-encoder", "ddn", "simple", (HEAVY_BALL, ("shared_encoder", True)),
            "one shared encoder: highly unstable learning", "9.5.1", True),
    Setting("ddn-simple-stage1-reconstruction", "ddn", "simple",
            (HEAVY_BALL, ("reconstruction_in_stage1", True)),
            "eq. 9.11 in stage 1: significantly worse, mostly failed training", "9.2.2", True),
    Setting("ddn-additive-shallow", "ddn", "additive", (HEAVY_BALL, ("encoder_layers", 0)),
            "encoder too shallow: no disentangling", "9.5.2", True),
    Setting("ddn-additive-deep", "ddn", "additive",
            (HEAVY_BALL, ("encoder_layers", 4), ("predictor_layers", 4)),
            "encoder too deep: MI nearly zero, but not disentangled by eye", "9.5.2", True),
    Setting("ddn-additive-xcov", "ddn", "additive", (HEAVY_BALL, ("encoding", "xcov")),
            "zero covariance is not sufficient for disentangling", "9.1", True),
    # Two variants that test why our DDN codes collapse in stage 1 (see the report).
    Setting("ddn-simple-denoise-stage1", "ddn", "simple",
            (HEAVY_BALL, ("denoise_stage1", True)),
            "sigma = 0.1 (9.3); Alg. 6 adds the noise in stage 3 only, the prose says it speeds "
            "disentangling", "9.2.2, 9.3", True),
    Setting("ddn-simple-rmsprop-lasagne", "ddn", "simple", (("rmsprop", "lasagne"),),
            "not in the thesis: RMSprop with eps 1e-6 inside the root (Lasagne's)",
            "7.4 (framework unnamed)", True),
)
SETTING_NAMES = tuple(s.name for s in SETTINGS)

# Not the thesis's rows: readings of section 9.3's optimizer and of section 8.2's data, and a DDN
# whose codes are standardised over the batch so that it cannot lower thesis eq. 9.6 by shrinking
# a code (jaxdis.train.optimizers, jaxdis.data.composite, jaxdis.nets.ddn). Each is one field away
# from the thesis row of the same dataset; experiments/results/ddn_readings.md runs them.
READING = "9.3's \"RMSprop ... momentum 0.9\" read as"
READINGS = (
    Setting("ddn-simple-decay", "ddn", "simple", (("rmsprop", "decay"),),
            f"{READING} RMSprop's decay 0.9, no heavy-ball term (Keras, Lasagne)", "9.3, 9.4.1",
            True),
    Setting("ddn-simple-printed", "ddn", "simple", (("rmsprop", "printed"),),
            f"{READING} eq. 7.4 as printed (a leaky sum of squares), no heavy-ball term",
            "7.4, 9.4.1", True),
    Setting("ddn-simple-tf1", "ddn", "simple", (("rmsprop", "tf1"),),
            f"{READING} TensorFlow 1's RMSPropOptimizer(decay=0.9, momentum=0.9)", "9.3, 9.4.1",
            True),
    Setting("ddn-simple-decay-binary", "ddn", "simple", (("rmsprop", "decay"), ("binarize", True)),
            "the decay reading on binarised digits (8.2: \"binary-valued\" MNIST)", "8.2, 9.4.1",
            True),
    Setting("ddn-simple-decay-batch", "ddn", "simple",
            (("rmsprop", "decay"), ("code_norm", "batch")),
            "not in the thesis: the decay reading, codes standardised over the batch",
            "9.4.1 (variant)", True),
    Setting("ddn-additive-decay-batch", "ddn", "additive",
            (("rmsprop", "decay"), ("code_norm", "batch")),
            "not in the thesis: the decay reading, codes standardised over the batch",
            "9.4.2 (variant)", True),
    Setting("ddn-occlusive-decay-batch", "ddn", "occlusive",
            (("rmsprop", "decay"), ("code_norm", "batch")),
            "not in the thesis: the decay reading, codes standardised over the batch",
            "9.4.3 (variant)", True),
)
ALL_SETTINGS = SETTINGS + READINGS
ALL_NAMES = tuple(s.name for s in ALL_SETTINGS)

# The reduced scale for a CPU: per experiment, fields replaced; every stage's epochs halved.
CPU_SCALE = {"n_train": 5000, "probe_size": 1000, "hidden": 128}
EPOCH_FIELDS = {"asae": ("epochs",),
                "ddn": ("encoder_epochs", "decoder_epochs", "end_to_end_epochs")}
MNIST_SEEDS = 5  # section 9.4.4 reports 5 runs on plain MNIST


@dataclasses.dataclass(frozen=True)
class Part3Config:
    """Every ASAE and DDN setting of thesis ch. 8-9 (``jaxdis run part3``; see the module
    docstring).

    Attributes:
      settings: the rows to run, by name (default: all of SETTINGS).
      seeds: seeds per setting (plain MNIST: at most MNIST_SEEDS, as the thesis).
      seed: the base PRNG seed of every row.
      scale: "thesis" (the thesis's sizes) or "cpu" (CPU_SCALE and half the epochs).
      mi_threshold: the thesis's rule: a seed whose raw final MI is below this counts as
        disentangled.
      score_fraction: ours: a seed whose disentanglement score reaches this fraction of the
        oracle ceiling counts as disentangled.
      collapse_threshold: a code whose spread ends below this has collapsed.
      figures_prefix: copies of the chosen figures are named figures/PREFIX_SETTING_*.png.
      title: the report's heading.
    """

    settings: tuple[str, ...] = SETTING_NAMES
    seeds: int = 30
    seed: int = 0
    scale: str = "thesis"       # or "cpu": CPU_SCALE and half the epochs
    mi_threshold: float = 0.1      # the thesis's rule, on the raw estimate
    score_fraction: float = 0.5    # disentangled: score >= this fraction of the oracle ceiling
    collapse_threshold: float = 0.01  # a code whose spread ends below this has collapsed
    figures_prefix: str = "part3"  # copies of the chosen figures: figures/PREFIX_SETTING_*.png
    title: str = "Thesis chapters 8 and 9: the split autoencoder and the DDN, every setting"


def make_config(dataset: str | None) -> Part3Config:
    del dataset  # each setting names its own
    return Part3Config()


def setting_config(setting: Setting, config: Part3Config):
    """The asae or ddn config of one row at the chosen scale."""
    module = MODULES[setting.experiment]
    base = module.make_config(setting.dataset)
    seeds = min(config.seeds, MNIST_SEEDS) if setting.dataset == "mnist" else config.seeds
    changes = dict(setting.overrides, seeds=seeds, seed=config.seed)
    if config.scale == "cpu":
        changes.update(CPU_SCALE)
        for name in EPOCH_FIELDS[setting.experiment]:
            epochs = changes.get(name, getattr(base, name))
            changes[name] = math.ceil(epochs / 2)
    elif config.scale != "thesis":
        raise ValueError(f"scale: expected 'thesis' or 'cpu', got {config.scale!r}")
    return module, dataclasses.replace(base, **changes)


def command(setting: Setting, run_config) -> str:
    """The one command that reruns a row: ``jaxdis run`` with every field that differs from
    the dataset's defaults."""
    base = MODULES[setting.experiment].make_config(setting.dataset)
    return " ".join([f"jaxdis run {setting.experiment} --dataset {setting.dataset}",
                     f"--seeds {run_config.seeds}"] + set_options(run_config, base, ("seeds",)))


def row_of(setting: Setting, summary: dict, config: Part3Config, cmd: str,
           code_std=None, stage1_code_std=None, stage1_active_units=None) -> dict:
    """A row: the setting, its run and :func:`jaxdis.metrics.sweep_verdicts` of its seeds."""
    return {"setting": setting.name, "experiment": setting.experiment, "dataset": setting.dataset,
            "ablation": setting.ablation, "thesis": setting.claim, "source": setting.source,
            "seeds": summary["seeds"], "alive_seeds": summary["alive_seeds"],
            "train_seconds": summary["train_seconds"], "resumed": bool(summary.get("resumed")),
            "device": summary["device"], "command": cmd,
            **sweep_verdicts(summary, mi_threshold=config.mi_threshold,
                             score_fraction=config.score_fraction,
                             collapse_threshold=config.collapse_threshold, code_std=code_std,
                             stage1_code_std=stage1_code_std,
                             stage1_active_units=stage1_active_units)}


def chosen_settings(config: Part3Config) -> list[Setting]:
    """The rows ``config.settings`` names, in table order; an unknown name is refused, listing
    the valid ones."""
    unknown = [name for name in config.settings if name not in ALL_NAMES]
    if unknown:
        raise ValueError(f"settings: unknown {unknown}; expected names from {ALL_NAMES}")
    return [s for s in ALL_SETTINGS if s.name in config.settings]


def run(config: Part3Config, run_dir) -> dict:
    for setting in chosen_settings(config):
        module, run_config = setting_config(setting, config)
        sub = RunDir(run_dir.path / setting.name)
        if (sub.path / "summary.json").exists():  # --resume: a finished row is kept
            continue
        sub.write_config(run_config)  # an unfinished row resumes from its checkpoint
        started = provenance()  # the code the row starts with, even if it spans a commit
        start = time.perf_counter()
        summary = module.run(run_config, sub)
        summary["wall_seconds"] = time.perf_counter() - start
        summary["provenance"] = {**started, "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        sub.write_json("summary.json", summary)
    return write_report(config, run_dir)


def write_report(config: Part3Config, run_dir) -> dict:
    """results.json and report.md from the finished rows' folders (also ``python -m
    experiments.part3 RUN_DIR``, which redraws them from a saved run)."""
    rows = []
    for setting in chosen_settings(config):
        sub = RunDir(run_dir.path / setting.name)
        summary = json.loads((sub.path / "summary.json").read_text())
        _, run_config = setting_config(setting, config)
        # the row's own seed count: a report may gather rows run with different --seeds
        run_config = dataclasses.replace(run_config, seeds=summary["seeds"])
        row = row_of(setting, summary, config, command(setting, run_config),
                     final_code_std(sub, summary["seeds"]),
                     final_code_std(sub, summary["seeds"], stage="encoders"),
                     last_logged(sub, summary["seeds"], "encoder_active_units", "encoders"))
        row["figures"] = _copy_figures(sub, run_dir, f"{config.figures_prefix}_{setting.name}")
        rows.append(row)
    result = {"config": config_to_dict(config), "rows": rows, "provenance": provenance()}
    run_dir.write_json("results.json", result)
    (run_dir.path / "report.md").write_text(report(config, rows, result["provenance"]))
    return {"rows": len(rows), "report": str(run_dir.path / "report.md")}


SHOWN_FIGURES = ("mi_curves", "mi_raw_curves", "cross_plot", "reconstructions_seed0",
                 "reconstructions_seed1", "reconstructions_seed2")


def _copy_figures(sub: RunDir, run_dir, prefix: str) -> list[str]:
    shown = [figure for figure in SHOWN_FIGURES if (sub.figures / f"{figure}.png").exists()]
    for figure in shown:
        shutil.copyfile(sub.figures / f"{figure}.png", run_dir.figures / f"{prefix}_{figure}.png")
    return [f"{prefix}_{figure}.png" for figure in shown]


def _cell(dist: dict | None, digits: int = 2) -> str:
    if not dist:
        return "n/a"
    return (f"{dist['median']:.{digits}f} [{dist['q25']:.{digits}f}, {dist['q75']:.{digits}f}]")


def report(config: Part3Config, rows: list[dict], where: dict) -> str:
    scale = ("the thesis's sizes" if config.scale == "thesis" else
             f"REDUCED (`scale=cpu`): {CPU_SCALE}, every stage's epochs halved; the thesis uses "
             "25,000 pairs (50,000 MNIST images), 1000 hidden units and the epochs of section 9.4")
    settings = ",".join(r["setting"] for r in rows)
    lines = [
        f"# {config.title}",
        "",
        f"Made by `jaxdis run part3 --seeds {config.seeds} --set scale={config.scale} "
        f"--set settings={settings}` on {where['device']}; this report drawn {where['date']} at "
        f"commit {where['commit']} (each row's run folder keeps its own provenance in "
        f"summary.json). Scale: {scale}. Seeds per setting: {config.seeds} "
        f"({MNIST_SEEDS} on plain MNIST, as the thesis).",
        "",
        "Cells give the median [quartiles] over seeds.",
        "",
        "- *Score*: the ground-truth disentanglement score (jaxdis.metrics.code_probes: the "
        "held-out R^2 of a ridge regression from each code to each cause image gives a 2x2 "
        "matrix; the score is the least of its four gaps, each code carrying one cause and each "
        "cause living in one code; 1 is perfect, 0 when a code carries both causes or none). "
        "*Ceiling*: the same score for the causes themselves compressed to the code's size "
        "(their top principal components), the most a code of that size can reach. *Chance*: "
        "the score of the same codes with their rows permuted (median over seeds). "
        f"*Disentangled*: seeds whose score reaches {config.score_fraction:g} of the ceiling. "
        "*Labels*: the same score with a linear probe reading the digit labels.",
        "- *MI*: the final KSG estimate of I(z_a; z_b) in nats on the probe set, each code unit "
        "standardised first. *MI raw*: the thesis's estimate on the codes as they are; with the "
        "max norm the larger code picks every neighbour, so a shrunken code reads as "
        f"independent. *Thesis rule*: seeds with raw MI < {config.mi_threshold}.",
        "- *Unhealthy*: seeds whose codes end with " + UNHEALTHY_CODE_RULE + "; their MI "
        "readings say nothing about independence. *Collapsed*: seeds whose smaller code ends "
        "stage 1 / the whole training with a spread below "
        f"{config.collapse_threshold} (about 0.3 at initialisation). *Active units*: at the end "
        "of stage 1, the share of an encoder's first hidden layer whose ReLU fires on some "
        "probe example (the smaller of the two encoders).",
        "- *Pairs*: pair recognition (both true digits read from the two single-cause "
        "reconstructions by a digit classifier; chance about 0.02). *Train s*: seconds of "
        "training in the process that finished the row (a resumed row counts only the part "
        "after the resume).",
        "",
        "| setting | thesis says | score | ceiling | chance | disentangled (ours) | labels | "
        "MI | MI raw | thesis rule | unhealthy | collapsed | active units | pairs | train s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        kind = " (ablation)" if r["ablation"] else ""
        ours = f"{r['seeds_disentangled']}/{r['seeds']}" if "seeds_disentangled" in r else "n/a"
        collapsed = (f"{r['seeds_collapsed_in_stage1']} / {r['seeds_collapsed']}"
                     if "seeds_collapsed_in_stage1" in r else
                     f"{r['seeds_collapsed']}" if "seeds_collapsed" in r else "n/a")
        ceiling = (f"{r['disentanglement_oracle']:.2f}" if "disentanglement_oracle" in r
                   else "n/a")
        chance = (f"{r['disentanglement_chance']['median']:.2f}"
                  if r.get("disentanglement_chance") else "n/a")
        broken = f" ({len(r['nonfinite_seeds'])} NaN)" if r["nonfinite_seeds"] else ""
        lines.append(
            f"| {r['setting']}{kind} | {r['thesis']} ({r['source']}) | "
            f"{_cell(r.get('disentanglement'))} | {ceiling} | {chance} | {ours}{broken} | "
            f"{_cell(r.get('label_disentanglement'))} | {_cell(r['final_mi'])} | "
            f"{_cell(r['final_mi_raw'])} | {r['seeds_below_mi_threshold']}/{r['seeds']} | "
            f"{r['unhealthy_code_seeds']}/{r['seeds']} | {collapsed} | "
            f"{_cell(r.get('stage1_active_units'))} | {_cell(r.get('pair_recognition'))} | "
            f"{r['train_seconds']:.0f}{' (resumed)' if r['resumed'] else ''} |")
    if any(r["alive_seeds"] < r["seeds"] for r in rows):
        lines += ["", "Diverged seeds (frozen by the engine): " + ", ".join(
            f"{r['setting']} {r['seeds'] - r['alive_seeds']}" for r in rows
            if r["alive_seeds"] < r["seeds"])]
    lines += ["", "## Rerun one row", ""]
    lines += [f"- {r['setting']}: `{r['command']}`" for r in rows]
    lines += ["", "## Figures (MI curves of all seeds, standardised and raw, with unhealthy codes "
              "marked; a cross plot of seed 0; reconstructions of seeds 0-2)", ""]
    for r in rows:
        shown = " ".join(f"![{r['setting']} {name}](figures/{name})" for name in r["figures"])
        lines.append(f"**{r['setting']}**: {shown}" if shown else f"**{r['setting']}**: none")
        lines.append("")
    return "\n".join(lines) + "\n"


def validate(config: Part3Config) -> None:
    """Builds every chosen row's config (its checks run), before any run folder is made."""
    for setting in chosen_settings(config):
        setting_config(setting, config)


EXPERIMENT = Experiment(
    name="part3",
    summary="thesis ch. 8-9: every ASAE and DDN setting and ablation as seed sweeps, one table",
    make_config=make_config, run=run, validate=validate)


if __name__ == "__main__":  # python -m experiments.part3 RUN_DIR: redraw the report of a run
    import sys

    folder = RunDir(sys.argv[1])
    print(write_report(load_config(Part3Config(), folder.path / "config.json"), folder))
