"""Forced Apart, Table 1, Fig. 2, 3, 5, 6 and the margin sweep of section 3.4.

A network is trained on a binary task whose two classes each merge five original classes, with one
extra loss component: none (baseline), DeCov, XCov, L_single or L_multi (the objectives, programs
and evaluation are :mod:`jaxdis.train.forced_apart`). FC1 of the validation and test sets is then
clustered by KMeans and scored against the original classes (AMI_max, NMI_sqrt), with the binary
accuracy beside. Every loss and seed of a table is one model of ONE vmapped program; so is every
(margin, seed) of the margin sweep. Each training phase ("table", "sweep", "autoencoder") trains in
its own sub-folder of the run folder (metrics.jsonl, whose "seed" is the model's index, and
checkpoints): a killed run continued with the same ``--out`` skips finished phases and resumes the
unfinished one. Datasets (the paper's pen strokes, CIFAR-10 and DBPedia need the internet; their
loaders are in :mod:`jaxdis.data.sequences`): ``mnist-rows``, MNIST read as 28 rows of 28 pixels
by the RNN of Fig. 1 (for the strokes), plus the sequence autoencoder of the "MNIST autoencoder"
column (Forced Apart eq. 11); ``mnist``, MNIST images by an MLP (or the CNN, ``model=cnn``);
``fashion-mnist``, classes 0-4 against 5-9, by the CNN of section 4.2 for 28x28 (for CIFAR-10).

Reduced scale by default (CPU); the paper's scale is :data:`FULL_SCALE`. The paper's MLP rows on
all 50,000 training images (3 seeds x 5 losses in one vmapped program), trained until no model's
validation accuracy has improved for 5 epochs (at most 100), are one command per dataset
(:data:`PAPER_MLP`; ``sweep_loss=`` leaves out mnist's margin sweep)::

    jaxdis run forced-apart --dataset mnist --set model=mlp --set train_size=0 --set eval_size=0 \\
        --set epochs=100 --set select_on_validation=true --set patience=5 --set sweep_loss=
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from jaxdis import registry
from jaxdis.data.labels import binary_labels
from jaxdis.nets import forced_apart as nets
from jaxdis.runs import RunDir
from jaxdis.train import forced_apart as fa_train
from jaxdis.viz import forced_apart as viz

DATASETS = ("mnist-rows", "mnist", "fashion-mnist")
LOSSES = ("baseline", "decov", "xcov", "single", "multi")
AE_LOSSES = ("baseline", "decov", "single", "multi")  # XCov needs a predicted label: no AE row
LOSS_NAMES = {"baseline": "Baseline", "decov": "DeCov", "xcov": "XCov", "single": "L_single",
              "multi": "L_multi"}

# Forced Apart Table 1, quoted from the paper: {column: {loss: (AMI, NMI)}}, mean of three runs,
# rows in the order of LOSSES, for the columns that correspond to ours: pen strokes (RNN) ~
# mnist-rows, MNIST autoencoder ~ mnist-rows autoencoder, CIFAR-10 (CNN) ~ fashion-mnist.
PAPER_TABLE1 = {column: dict(zip(LOSSES, rows)) for column, rows in {
    "MNIST strokes, test": ((0.467, 0.477), (0.287, 0.313), (0.525, 0.547), (0.544, 0.553),
                            (0.502, 0.523)),
    "MNIST autoencoder, test": ((0.454, 0.460), (0.443, 0.450), (0.414, 0.420), (0.457, 0.463),
                                (0.463, 0.470)),
    "CIFAR-10, validation": ((0.198, 0.204), (0.175, 0.191), (0.320, 0.327), (0.238, 0.245),
                             (0.376, 0.384)),
    "CIFAR-10, test": ((0.194, 0.199), (0.176, 0.191), (0.321, 0.326), (0.239, 0.246),
                       (0.376, 0.385))}.items()}
FIGURE_KINDS = {"units": "Fig. 2/3: most active FC1 unit by class",
                "pca": "Fig. 5: PCA of FC1, by binary label and by class",
                "clusters": "Fig. 6: AMI against the number of clusters",
                "margins": "Section 3.4: margin sweep"}
PAPER_COLUMNS = {"mnist-rows": ("MNIST strokes, test",), "mnist": ("MNIST strokes, test",),
                 "fashion-mnist": ("CIFAR-10, validation", "CIFAR-10, test")}


@dataclasses.dataclass(frozen=True)
class ForcedApartConfig:
    """One dataset's Table 1 row block, figures and margin sweep.

    The fields of :class:`jaxdis.train.forced_apart.ForcedApartSettings` are copied into it by
    name. The paper adds L_single and L_multi to the cross-entropy unweighted
    (Forced Apart eq. 5, 8); the baselines' weights are ours.

    Attributes:
      dataset: "mnist-rows", "mnist" or "fashion-mnist".
      model: "rnn" (rows of pixels), "mlp" or "cnn".
      losses: the table's rows: "baseline", "decov", "xcov", "single", "multi".
      seeds: models per loss.
      seed: the PRNG seed.
      epochs: training epochs of the classifier table.
      batch_size: examples per minibatch.
      learning_rate: Adam's learning rate.
      train_size: training examples; 0: all 50,000.
      eval_size: validation and test examples clustered; 0: all 10,000.
      rnn_hidden: the RNN's hidden units.
      mlp_hidden: the MLP's hidden layer widths.
      cnn_width: the CNN's widths as a share of VGG-16's (section 4.2: 1.0).
      cnn_conv: "shifted" (the CPU-fast path) or "lax" (its nn.Conv twin; the same function).
      margin_single: L_single's margin m (the paper: 5-10 good).
      margin_multi: L_multi's margin m (the paper: 0.1-1 good).
      weight_decov: DeCov's weight.
      weight_xcov: XCov's weight.
      weight_single: L_single's weight (the paper: 1, unweighted).
      weight_multi: L_multi's weight (the paper: 1, unweighted).
      n_clusters: KMeans clusters scored against the original classes.
      kmeans_seeds: KMeans restarts.
      cluster_counts: the cluster counts of Fig. 6 (AMI against clusters).
      sweep_loss: the loss of the margin sweep ("single" or "multi"); empty: no sweep.
      sweep_margins: the margins of the sweep.
      autoencoder: also train the sequence autoencoder of the "MNIST autoencoder" column
        (Forced Apart eq. 11; mnist-rows).
      ae_alpha: Forced Apart eq. 11's weight of the Forced Apart term.
      ae_margin: the autoencoder's margin.
      ae_epochs: the autoencoder's epochs.
      select_on_validation: keep each model's epoch of best validation probe score, not its last.
      patience: stop a phase once no model improved for this many epochs (needs the above); 0: off.
    """

    dataset: str = "mnist-rows"
    model: str = "rnn"
    losses: tuple[str, ...] = LOSSES
    seeds: int = 3
    seed: int = 0
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-3
    train_size: int = 10_000
    eval_size: int = 5_000
    rnn_hidden: int = 64
    mlp_hidden: tuple[int, ...] = (256,)
    cnn_width: float = 0.125
    cnn_conv: str = "shifted"
    margin_single: float = 10.0
    margin_multi: float = 1.0
    weight_decov: float = 1.0
    weight_xcov: float = 1.0
    weight_single: float = 1.0
    weight_multi: float = 1.0
    n_clusters: int = 10
    kmeans_seeds: int = 3
    cluster_counts: tuple[int, ...] = (2, 5, 10, 15, 20)
    sweep_loss: str = "multi"
    sweep_margins: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0)
    autoencoder: bool = False
    ae_alpha: float = 0.5
    ae_margin: float = 1.0
    ae_epochs: int = 3
    select_on_validation: bool = False
    patience: int = 0


FULL_SCALE = ("--set train_size=0 --set eval_size=0 --set epochs=30 --set ae_epochs=30 "
              "--set rnn_hidden=128 --set cnn_width=1.0")
# The paper's MLP rows (the paper gives no epochs), stopped early on validation.
PAPER_MLP = ("--set model=mlp --set train_size=0 --set eval_size=0 --set epochs=100 "
             "--set select_on_validation=true --set patience=5 --set sweep_loss=")


def make_config(dataset: str | None) -> ForcedApartConfig:
    dataset = dataset or "mnist-rows"
    if dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {dataset!r}")
    if dataset == "mnist-rows":
        return ForcedApartConfig(dataset=dataset, model="rnn", autoencoder=True)
    if dataset == "mnist":
        return ForcedApartConfig(dataset=dataset, model="mlp", sweep_loss="single",
                                 sweep_margins=(1.0, 3.0, 5.0, 10.0, 20.0))
    return ForcedApartConfig(dataset=dataset, model="cnn", epochs=2)


def result_name(dataset: str, model: str) -> str:
    """A run's JSON is forced_apart_{result_name}.json (mnist is run with several models)."""
    return f"{dataset.replace('-', '_')}_{model}"


def validate(config: ForcedApartConfig) -> None:
    """What `jaxdis run` checks before it creates the run folder: the config, and that the
    dataset is found (FileNotFoundError, listing where it looked, if not)."""
    from jaxdis.data.mnist import split_size

    if config.dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {config.dataset!r}")
    if config.model not in nets.CLASSIFIERS:
        raise ValueError(f"model: expected rnn, mlp or cnn, got {config.model!r}")
    if set(config.losses) - set(LOSSES) or not config.losses:
        raise ValueError(f"losses: expected some of {LOSSES}, got {config.losses}")
    if config.sweep_loss not in ("", "single", "multi"):
        raise ValueError(f"sweep_loss: expected '', 'single' or 'multi', got {config.sweep_loss!r}")
    if config.cnn_conv not in nets.CONV_IMPLEMENTATIONS:
        raise ValueError(f"cnn_conv: expected one of {nets.CONV_IMPLEMENTATIONS}, got "
                         f"{config.cnn_conv!r}")
    if config.seeds < 1 or config.epochs < 1:
        raise ValueError("seeds and epochs: expected at least 1")
    for name in ("train_size", "eval_size"):
        if getattr(config, name) < 0:
            raise ValueError(f"{name}: expected >= 0 (0: all), got {getattr(config, name)}")
    fa_train.ForcedApartSettings.from_config(config)  # margins and weights >= 0, patience
    if any(m < 0 for m in config.sweep_margins):
        raise ValueError(f"sweep_margins: expected margins >= 0, got {config.sweep_margins}")
    split_size("train", "fashion_mnist" if config.dataset == "fashion-mnist" else "mnist")


def load_split(dataset: str, split: str, size: int):
    """Images (N, 28, 28) float32 in [0, 1] and original classes (N,) int32; the first ``size``
    examples of the split (0: all)."""
    from jaxdis.data import load_fashion_mnist, load_mnist

    images, classes = (load_fashion_mnist if dataset == "fashion-mnist" else load_mnist)(split)
    return (images[:size], classes[:size]) if size else (images, classes)


# ----------------------------------------------------------------------------- the studies


def run(config: ForcedApartConfig, run_dir) -> dict:
    """The classifier table (Table 1), its figures (Fig. 2/3, 5, 6), the margin sweep and the
    autoencoder column, each training phase in its own sub-folder of ``run_dir``."""
    validate(config)
    started = run_dir.started()  # the code the run started with, even if resumed at another
    start = time.perf_counter()
    settings = fa_train.ForcedApartSettings.from_config(config)
    sizes = {"train": config.train_size, "validation": config.eval_size, "test": config.eval_size}
    images = [load_split(config.dataset, split, size) for split, size in sizes.items()]
    model, shape = nets.make_classifier(config.model, rnn_hidden=config.rnn_hidden,
                                        mlp_hidden=config.mlp_hidden, cnn_width=config.cnn_width,
                                        cnn_conv=config.cnn_conv)
    train, validation, test = [(shape(x), classes) for x, classes in images]
    table = fa_train.classifier_table(model, settings, config.epochs, config.losses, train,
                                      validation, test, RunDir(run_dir.path / "table"))
    summary = {"dataset": config.dataset, "model": config.model, "table": table["table"],
               "dead_models": table["dead_models"]}
    if config.select_on_validation:  # where training stopped and which epochs were kept
        records = RunDir(run_dir.path / "table").read_metrics()
        best = {r["seed"]: int(r["best_epoch"]) for r in records if "best_epoch" in r}
        summary["epochs_trained"] = max(r["global_epoch"] for r in records)
        summary["selected_epochs"] = {loss: [best[i] for i, row in enumerate(table["losses"])
                                             if row == loss] for loss in config.losses}
    name, c_test = result_name(config.dataset, config.model), test[1]

    # Fig. 2/3 and 5: seed 0's test representations, baseline against each Forced Apart loss.
    fc1 = {loss: table["fc1_test"][table["losses"].index(loss)] for loss in config.losses}
    shown = [loss for loss in ("baseline", "single", "multi") if loss in fc1]
    run_dir.save_figure(viz.unit_histograms(
        {f"{LOSS_NAMES[loss]} ({config.dataset}, seed 0)": (fc1[loss], c_test) for loss in shown}),
        f"forced_apart_{name}_units")
    run_dir.save_figure(viz.pca_views(
        {LOSS_NAMES[loss]: fc1[loss] for loss in shown if loss != "single"},
        binary_labels(c_test), c_test), f"forced_apart_{name}_pca")

    # Fig. 6: AMI against the number of clusters (test set, mean over seeds).
    ami = fa_train.ami_curves(table["fc1_test"], c_test, table["losses"], config.losses,
                              config.cluster_counts, config.kmeans_seeds)
    curves = {LOSS_NAMES[loss]: (list(config.cluster_counts), a) for loss, a in ami.items()}
    summary["ami_vs_clusters"] = {k: {"clusters": c, "ami": a} for k, (c, a) in curves.items()}
    run_dir.save_figure(viz.ami_vs_clusters_plot(curves, f"{config.dataset}, test set"),
                        f"forced_apart_{name}_clusters")

    if config.sweep_loss:
        sweep = summary["margin_sweep"] = fa_train.margin_sweep(
            model, settings, config.epochs, config.sweep_loss, config.sweep_margins, train,
            validation, RunDir(run_dir.path / "sweep"))
        baseline = summary["table"].get("baseline", {}).get("validation", {}).get("ami", {})
        run_dir.save_figure(viz.margin_sweep_plot(
            sweep["margins"], sweep["ami"], sweep["accuracy"], baseline.get("mean"),
            f"{LOSS_NAMES[config.sweep_loss]} margin sweep, {config.dataset}, validation"),
            f"forced_apart_{name}_margins")
    if config.autoencoder:  # the "MNIST autoencoder" column: the rows of pixels, no labels
        summary["autoencoder"], summary["autoencoder_dead_models"] = fa_train.autoencoder_table(
            nets.SequenceAutoencoder(hidden=config.rnn_hidden), settings, config.ae_epochs,
            AE_LOSSES, images[0][0], images[1][0], images[2], RunDir(run_dir.path / "autoencoder"))
    summary["wall_seconds"] = time.perf_counter() - start
    summary["provenance"] = {**started, "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    summary["config"] = dataclasses.asdict(config)
    run_dir.write_json(f"forced_apart_{name}.json", summary)
    return summary


# ----------------------------------------------------------------------------- the markdown report


def report(summaries: list[dict], commands: list[str], figures_dir=None,
           names: list[str] | None = None) -> str:
    """experiments/results/forced_apart.md from the runs' summaries (forced_apart_*.json): our
    Table 1 (mean ± std over seeds) beside the paper's corresponding columns, the margin sweeps,
    and each run's command, device, date, commit and wall time; a run on all training images
    beside the reduced run of the same dataset and model; with ``figures_dir``, links to the
    figures kept there (figures/NAME_*.png, NAME each summary's file name without .json, by
    default forced_apart_DATASET_MODEL)."""
    names = names or [f"forced_apart_{result_name(s['dataset'], s['model'])}" for s in summaries]
    lines = ["# Forced Apart: our Table 1 beside the paper's", "",
             "Generated by `python -m experiments.forced_apart report` from the JSON files of "
             "`jaxdis run forced-apart` (same folder). AMI is AMI_max, NMI is NMI_sqrt, KMeans "
             "with as many clusters as classes on FC1; mean ± std over the seeds (each seed's "
             "score is itself the mean of several KMeans restarts). Accuracy: the binary task.", ""]
    for summary, command, name in zip(summaries, commands, names):
        figures = viz.figure_links(figures_dir, f"{name}_", FIGURE_KINDS) if figures_dir else []
        title = f"{summary['dataset']} ({summary['model']})" + (
            "" if summary["config"]["train_size"] else ", all training images")
        lines += viz.run_markdown(
            summary, command, {c: PAPER_TABLE1[c] for c in PAPER_COLUMNS[summary["dataset"]]},
            PAPER_TABLE1["MNIST autoencoder, test"], LOSS_NAMES, figures, title)
    for full in (s for s in summaries if not s["config"]["train_size"]):  # all images
        reduced = [s for s in summaries if s["config"]["train_size"]
                   and (s["dataset"], s["model"]) == (full["dataset"], full["model"])]
        if reduced:
            lines += [f"## {full['dataset']} ({full['model']}): all training images beside the "
                      f"reduced run ({reduced[0]['config']['train_size']} images), test set", "",
                      *viz.scale_comparison_markdown(reduced[0]["table"], full["table"],
                                                     LOSS_NAMES)]
    lines += ["## Not run here, and the full-scale commands", "",
              "- The paper's pen-stroke sequences, CIFAR-10 and DBPedia are not reachable offline; "
              "their loaders are `jaxdis.data.sequences` (de Jong's files in a folder you name; "
              "tfds for CIFAR-10 and DBPedia-14 with the paper's 7/7 split). MNIST rows stand in "
              "for the strokes and Fashion-MNIST for CIFAR-10.",
              "- The VGG-to-pool3 CNN of section 4.2 (`model=cnn`) was run here only with 1/8 of "
              "VGG-16's filters, on a few thousand images for two epochs, without a margin sweep: "
              "a vmapped stack of 15 such models takes seconds per step on this shared 2-core CPU "
              "(with `cnn_conv=shifted`; `nn.Conv` under vmap is slower still). Its rows are the "
              "least trained of the report; the MLP rows and sweeps are the better-trained "
              "comparison on the same data. On a GPU, `--set cnn_conv=lax` (the same function "
              "through `nn.Conv`) may be the faster; that was not measured here.",
              "- The paper gives no epochs, batch size, learning rate or loss weights; ours are "
              "the config's (Adam 1e-3, batch 128, every component weighted 1). The paper's "
              "columns beside ours are the nearest ones: pen strokes (RNN) beside mnist-rows and "
              "beside mnist images (MLP; the paper has no MNIST-image row), CIFAR-10 beside "
              "fashion-mnist. They are a different dataset and scale, to be read for the ordering "
              "of the rows, not the values.",
              "- Full scale, for a GPU (the number of epochs is our guess):",
              "",
              "```bash",
              f"jaxdis run forced-apart --dataset mnist-rows {FULL_SCALE}",
              f"jaxdis run forced-apart --dataset mnist {FULL_SCALE}",
              f"jaxdis run forced-apart --dataset mnist --set model=cnn {FULL_SCALE}",
              f"jaxdis run forced-apart --dataset fashion-mnist {FULL_SCALE}",
              "```", ""]
    return "\n".join(lines) + "\n"


_RUN = "JAXDIS_DATA_DIR=/work/shared/data jaxdis run forced-apart --dataset "
_CPU_CNN = "--set train_size=5000 --set epochs=2 --set eval_size=2000 --set sweep_loss="
# The runs behind experiments/results/forced_apart.md: (JSON written by the run, its command).
RESULT_RUNS = tuple((f"forced_apart_{name}.json", _RUN + arguments) for name, arguments in (
    ("mnist_rows_rnn", "mnist-rows --set train_size=8000 --set epochs=3 --set ae_epochs=2 "
                       "--set sweep_margins=0.1,0.3,1.0,3.0"),
    ("mnist_mlp", "mnist --set train_size=20000 --set epochs=5"),
    ("mnist_mlp_full", f"mnist {PAPER_MLP}"),
    ("mnist_cnn", f"mnist --set model=cnn {_CPU_CNN}"),
    ("fashion_mnist_mlp", "fashion-mnist --set model=mlp --set train_size=20000 --set epochs=5"),
    ("fashion_mnist_mlp_full", f"fashion-mnist {PAPER_MLP}"),
    ("fashion_mnist_cnn", f"fashion-mnist {_CPU_CNN}")))


def main(argv: list[str]) -> int:
    """``python -m experiments.forced_apart report [OUT.md [SUMMARY.json "COMMAND" ...]]``

    With only ``report``: experiments/results/forced_apart.md from :data:`RESULT_RUNS` (the JSON
    files beside it that exist)."""
    if not argv or argv[0] != "report" or len(argv) == 3 or (len(argv) > 2 and len(argv[2:]) % 2):
        print(main.__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).parent / "results" / "forced_apart.md"
    if len(argv) > 2:
        pairs = list(zip(argv[2::2], argv[3::2]))
    else:
        pairs = [(out.parent / name, command) for name, command in RESULT_RUNS
                 if (out.parent / name).exists()]
    summaries = [json.loads(Path(path).read_text()) for path, _ in pairs]
    out.write_text(report(summaries, [command for _, command in pairs], out.parent / "figures",
                          [Path(path).stem for path, _ in pairs]))
    return 0


EXPERIMENT = registry.Experiment(
    name="forced-apart", make_config=make_config, run=run, datasets=DATASETS, validate=validate,
    summary="Forced Apart Table 1, Fig. 2/3/5/6 and margin sweep: L_single, L_multi vs DeCov, "
            "XCov, baseline, scored by KMeans AMI/NMI")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
