"""Cheung et al. (2015): the XCov semi-supervised autoencoder on MNIST, its Table 2, Fig. 4-7 and
Table 5, the gamma = 0 ablation and accuracy against the number of labelled examples.

Training is :mod:`jaxdis.train.xcov` (Cheung et al. eq. 3, AdaDelta, max-norm, each model's epoch
selected on the validation set, the last 10,000 training images, by ``selection``: Table 2's "model
selection criterion"), evaluated on validation AND test (the paper does not say which its Table 2
reports). Several models are one program: ``seeds`` x the gammas (seed i of every gamma starts from
the same parameters), or x the labelled-example counts. Each training phase (``table2``, ``npz``,
``labels_with_unlabelled_K``, ``labels_only_K``, ``options_batchB_maxnormM``) has its own
sub-folder of the run folder (metrics.jsonl, checkpoints): a killed ``jaxdis run xcov --out DIR``
continued with the same ``--out`` skips the finished phases and resumes the unfinished one.
``study``: ``table2``, ``labels``, ``options``, ``all`` (table2, labels); see ``study_*``.

A user's own labelled images (TFD, Multi-PIE: licensed, not shipped; the
:mod:`jaxdis.data.labelled_npz` layout with a ``split`` array) go through :func:`study_npz` with
``--set npz=PATH`` and a ``model`` whose image shape and label sets match (``tfd``, ``conv_tfd``:
48x48, ``labels_expression``; ``conv_deconv_multipie``: ``labels_pose``, ``labels_illumination``):
``jaxdis run xcov --set model=tfd --set npz=tfd.npz --set gamma=1000`` (Table 3's weights).

Scale. The default is reduced for a loaded 2-core CPU (what was run, and its time on our CPU:
``experiments/results/xcov.md``). The paper's scale, on a GPU::

    jaxdis run xcov --seeds 5 --set epochs=100 --set labels_epochs=100 \\
        --set parzen_samples=10000 --set parzen_test=10000

(the paper states no epoch count; 100 is our choice; ``--set epochs=150 --set patience=10`` trains
each phase until validation stops improving instead). Other rows of Table 2: ``--set
model=conv_mnist``, ``--set model=maxout_mnist --set beta=100 --set selection=accuracy`` (``--set
study=table2 --set ablation_gammas=`` trains the row alone; the reports in
``experiments/results/xcov_conv_mnist.md`` and ``xcov_maxout_mnist.md`` give the commands run on
the shared CPU and their times); ``python -m experiments.xcov table2 OUT SUMMARY.json...``
assembles Table 2 from runs' summaries.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from jaxdis.metrics.seed_sweep import mean_std
from jaxdis.nets import cheung
from jaxdis.registry import Experiment
from jaxdis.runs import RunDir, keep_run
from jaxdis.train import xcov as xt

# Cheung et al. Table 2 (accuracy in %, weights, model selection criterion) and section 3.4.
PAPER_TABLE2 = {
    "mnist": dict(accuracy=98.35, alpha=1.0, beta=10.0, gamma=10.0, selection="reconstruction"),
    "conv_mnist": dict(accuracy=98.71, alpha=1.0, beta=10.0, gamma=10.0, selection="reconstruction"),
    "maxout_mnist": dict(accuracy=99.01, alpha=1.0, beta=100.0, gamma=10.0, selection="accuracy"),
}
# Cheung et al. Table 3 (TFD, fold 0): the rows a user can compare with on their own TFD .npz.
PAPER_TABLE3 = {
    "tfd": dict(accuracy=69.4, alpha=1.0, beta=10.0, gamma=1000.0, selection="reconstruction"),
    "conv_tfd": dict(accuracy=84.0, alpha=1.0, beta=10.0, gamma=1000.0, selection="accuracy"),
}
PAPER_Z_STD = 0.35  # "standard deviation .35" (section 3.4, Fig. 4a)
STUDIES = ("table2", "labels", "options", "all")  # "all": table2 and labels


@dataclasses.dataclass(frozen=True)
class XCovConfig:
    """Cheung et al.'s XCov autoencoder studies (``jaxdis run xcov``; see the module docstring).

    Attributes:
      dataset: "mnist" (a user's own data comes through npz).
      study: "table2", "labels", "options" or "all" (= table2 and labels).
      model: "mnist", "conv_mnist", "maxout_mnist" (Table 2); npz: "tfd", "conv_tfd", ...
      seeds: models per setting, trained together.
      seed: the PRNG seed.
      epochs: training epochs (the paper states none).
      batch_size: examples per minibatch (section 2.3: "mini-batches of N = 50").
      alpha: Cheung et al. eq. 3's weight of the reconstruction cost U.
      beta: Cheung et al. eq. 3's weight of the supervised cost S.
      gamma: Cheung et al. eq. 3's weight of the XCov penalty C.
      ablation_gammas: gammas trained beside gamma in the table2 study; empty: none.
      selection: Table 2's model selection criterion on validation: "reconstruction", "accuracy".
      patience: end a phase once no model's validation score improved for this many epochs; 0: off.
      learning_rate: AdaDelta's step (Zeiler 2012: 1).
      rho: AdaDelta's decay.
      eps: AdaDelta's stabiliser.
      max_norm: the max-norm of each unit's incoming weights (authors: about 0.9); 0: off.
      train_examples: the first n training images; 0: all (MNIST's 50,000, or the npz's).
      npz: a labelled-images .npz (jaxdis.data.labelled_npz) to train `model` on; empty: MNIST.
      labelled_per_class: the labels study's labelled examples per class.
      labels_epochs: the labels study's epochs with the unlabelled rest (the others: as many steps).
      balanced_labels: the labels study repeats its labelled examples to half of each epoch.
      parzen_samples: decoded samples of the Parzen-window estimate (Goodfellow et al.: 10,000).
      parzen_test: test images it scores (paper: all 10,000).
      parzen_bandwidths: the bandwidths it selects from on the validation set.
      n_shown: test digits in the style-transfer figures.
      option_batch_sizes: the options study's minibatch sizes.
      option_max_norms: the options study's max-norms (0: no constraint).
    """

    dataset: str = "mnist"
    study: str = "all"  # "table2", "labels", "options" or "all" (= table2 and labels)
    model: str = "mnist"  # "mnist", "conv_mnist" or "maxout_mnist" (Table 2's rows)
    seeds: int = 2
    seed: int = 0
    epochs: int = 3
    batch_size: int = 50  # section 2.3: "mini-batches of N = 50"
    alpha: float = 1.0
    beta: float = 10.0
    gamma: float = 10.0
    ablation_gammas: tuple[float, ...] = (0.0,)  # trained beside gamma (table2); empty: none
    selection: str = "reconstruction"  # Table 2's model selection criterion
    patience: int = 0  # epochs without a better validation score that end a phase; 0: off
    learning_rate: float = 1.0  # AdaDelta's step (Zeiler 2012)
    rho: float = 0.95
    eps: float = 1e-6
    max_norm: float = 0.0  # 0: off; the authors' configurations: about 0.9
    train_examples: int = 0  # the first n training images; 0: all (MNIST's 50,000, or the npz's)
    npz: str = ""  # a labelled-images .npz (jaxdis.data.labelled_npz): train `model` on it instead
    labelled_per_class: tuple[int, ...] = (10, 60, 100)  # labels study: 100, 600, 1000 in all
    labels_epochs: int = 1  # labels study, with the unlabelled rest (the others: same steps)
    balanced_labels: bool = False  # labels study: half of each epoch's examples labelled
    parzen_samples: int = 10_000  # decoded samples (Goodfellow et al. 2014: 10,000)
    parzen_test: int = 1_000  # test images scored (paper: the 10,000)
    parzen_bandwidths: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
    n_shown: int = 8  # test digits in the style-transfer figures
    option_batch_sizes: tuple[int, ...] = (50, 100)  # options study: minibatch sizes
    option_max_norms: tuple[float, ...] = (0.0, 0.9)  # options study: 0 = no constraint


def make_config(dataset: str | None) -> XCovConfig:
    return XCovConfig(dataset=dataset or "mnist")


def check_config(config: XCovConfig) -> None:
    """Raises ValueError for a config that cannot run (`jaxdis run` calls it before it creates
    the run folder, and ``run`` again)."""
    if config.study not in STUDIES:
        raise ValueError(f"study: expected one of {STUDIES}, got {config.study!r}")
    if not config.npz and config.model not in PAPER_TABLE2:
        raise ValueError(f"model: expected one of {sorted(PAPER_TABLE2)} on MNIST (the others, "
                         f"{sorted(set(cheung.MODELS) - set(PAPER_TABLE2))}, need --set npz=PATH), "
                         f"got {config.model!r}")
    xt.TrainSettings.from_config(config)  # checks model, selection and max_norm
    if config.npz and config.study not in ("table2", "all"):
        raise ValueError(f"study: with npz set, the experiment trains and evaluates `model` on "
                         f"the file ('table2' or 'all'); got {config.study!r}")
    for name, least in (("seeds", 1), ("epochs", 1), ("batch_size", 1), ("labels_epochs", 1),
                        ("train_examples", 0), ("patience", 0)):
        if getattr(config, name) < least:
            off = " (0 = all)" if name == "train_examples" else " (0 = off)" if least == 0 else ""
            raise ValueError(f"{name}: expected >= {least}{off}, got {getattr(config, name)}")
    if any(k < 1 for k in config.labelled_per_class):
        raise ValueError(f"labelled_per_class: expected counts >= 1, got {config.labelled_per_class}")


def train_phase(config: XCovConfig, run_dir, phase: str, splits, weights, labelled=None,
                seed_indices=None, evaluate_on=("validation", "test"), **changes) -> xt.Trained:
    """:func:`jaxdis.train.xcov.train_and_evaluate` in the run folder's sub-folder ``phase``, with
    the config's training settings (``changes`` replace some of them by name)."""
    return xt.train_and_evaluate(
        xt.TrainSettings.from_config(config, **changes), RunDir(run_dir.path / phase), splits,
        weights, labelled, seed=config.seed, seed_indices=seed_indices, patience=config.patience,
        evaluate_on=evaluate_on)


def study_table2(config: XCovConfig, splits, run_dir) -> dict:
    """Table 2's row for ``config.model`` over seeds, gamma beside the ablation gammas, then the
    analyses of section 3.4-3.5 and Table 5 on seed 0."""
    from jaxdis.metrics import label_probe
    from jaxdis.viz import xcov as viz

    gammas = (config.gamma,) + tuple(config.ablation_gammas)
    entries = [(g, s) for g in gammas for s in range(config.seeds)]
    model = cheung.MODELS[config.model]()
    trained = train_phase(config, run_dir, "table2", splits,
                          [(config.alpha, config.beta, g) for g, _ in entries],
                          seed_indices=[s for _, s in entries],
                          evaluate_on=("validation", "test", "train"))
    history = trained.history
    on_val, on_test, on_train = (trained.scores[k] for k in ("validation", "test", "train"))
    rows = {}
    for g in gammas:
        members = [i for i, (gg, _) in enumerate(entries) if gg == g]
        rows[f"gamma={g:g}"] = {
            "gamma": g, "validation_accuracy": mean_std(on_val["accuracy"][members]),
            **{f"test_{k}": mean_std(on_test[k][members]) for k in ("accuracy", "reconstruction",
                                                                    "xcov")},
            "best_epoch": trained.best_epoch[members].tolist(),
            "validation_curve": {k: history[k][members].tolist() for k in history
                                 if k.startswith("validation_")}}
    result = {"rows": rows, "paper": PAPER_TABLE2[config.model],
              "train_seconds": trained.train_seconds, "train_examples": len(splits["train"][0]),
              "models_trained_together": len(entries)}

    shown = {f"gamma={g:g}": entries.index((g, 0)) for g in gammas}  # seed 0: figures, ablation
    main_title, main_index = next(iter(shown.items()))
    z_test = on_test["z"][main_index]
    result["z_test_std"] = {"overall": float(z_test.std()), "per_unit": z_test.std(axis=0).tolist(),
                            "mean": z_test.mean(axis=0).tolist(), "paper": PAPER_Z_STD}
    # How much class z still holds: a linear probe's held-out accuracy (chance 0.1), and the
    # spread of z that the paper's Fig. 4a discusses.
    result["ablation"] = {title: {
        "test_xcov": float(on_test["xcov"][i]),
        "probe_accuracy_from_z": float(label_probe(on_test["z"][i], splits["test"][1])),
        "z_std": float(on_test["z"][i].std()),
        "test_accuracy": float(on_test["accuracy"][i])} for title, i in shown.items()}
    figures, spectra = viz.analysis_figures(
        model, {title: trained.model(i) for title, i in shown.items()},
        splits["test"][0][:config.n_shown], {title: on_test["z"][i] for title, i in shown.items()},
        np.linspace(5.0, -5.0, 11), caption=", seed 0")
    result["jacobian_spectra"] = {k: v.mean(axis=0)[:10].tolist()
                                  for k, v in spectra[main_title].items()}
    figures["xcov_z_histogram"] = viz.z_histogram(
        z_test, f"test-set z, {main_title}, seed 0 (paper: std about {PAPER_Z_STD})")
    figures["xcov_validation_curves"] = viz.validation_curves(
        history["validation_accuracy"], history["validation_reconstruction"],
        [f"gamma={g:g} seed {s}" for g, s in entries], [g != gammas[0] for g, _ in entries])
    for name, fig in figures.items():
        run_dir.save_figure(fig, name)
    result["parzen"] = xt.parzen_table5(  # Table 5, seed 0 of gamma
        model, trained.model(main_index), on_train["y_hat"][main_index],
        on_train["z"][main_index], {k: images for k, (images, _) in splits.items()},
        n_samples=config.parzen_samples, n_test=config.parzen_test,
        bandwidths=config.parzen_bandwidths, seed=config.seed)
    return result


def study_npz(config: XCovConfig, splits, run_dir) -> dict:
    """Table 2's (and Table 3's) training of ``config.model`` on a user's labelled images (TFD,
    Multi-PIE): validation and test accuracy per label set (over labelled examples),
    reconstruction error and XCov; on seed 0, the label swaps of Cheung et al. Fig. 6, 8, 9."""
    from jaxdis.viz import xcov as viz

    model = cheung.MODELS[config.model]()
    label_sets = [name for name, _ in model.label_sets]
    by_set = lambda labels: labels if isinstance(labels, dict) else {label_sets[0]: labels}  # noqa: E731
    counted = {split: {name: int(np.sum(values >= 0)) for name, values in by_set(labels).items()}
               for split, (_, labels) in splits.items()}
    if config.selection == "accuracy" and not all(counted["validation"].values()):
        raise ValueError(f"selection: 'accuracy' needs labelled validation examples in every label "
                         f"set; {config.npz} has {counted['validation']}")
    trained = train_phase(config, run_dir, "npz", splits,
                          [(config.alpha, config.beta, config.gamma)] * config.seeds)
    on_val, on_test = trained.scores["validation"], trained.scores["test"]
    accuracies = ["accuracy"] + [f"accuracy_{name}" for name in sorted(label_sets)
                                 if len(label_sets) > 1]  # each set's beside their mean
    if len(model.image_shape) == 2:  # the figures draw grey images
        for name, fig in viz.label_swap_figures(model, trained.model(0),
                                                splits["test"][0][:config.n_shown],
                                                f"{config.model}, seed 0").items():
            run_dir.save_figure(fig, name)
    return {"file": config.npz, "model": config.model, "label_sets": dict(model.label_sets),
            "examples": {split: len(images) for split, (images, _) in splits.items()},
            "labelled": counted, "train_seconds": trained.train_seconds,
            "validation": {k: mean_std(on_val[k]) for k in accuracies},
            "test": {k: mean_std(on_test[k]) for k in accuracies + ["reconstruction", "xcov"]},
            "best_epoch": trained.best_epoch.tolist(),
            "curves": {k: v.tolist() for k, v in trained.history.items() if k != "alive"},
            "paper": PAPER_TABLE3.get(config.model)}


def study_labels(config: XCovConfig, splits, run_dir, full: float | None = None) -> dict:
    """Test accuracy against labelled examples per class: with the unlabelled rest (beta masked
    per example) and without it (the labelled images alone, as many optimizer steps), drawn
    beside ``full``, the accuracy with every label. One seed per count; one compiled program."""
    from jaxdis.viz import xcov as viz

    x_train, y_train = splits["train"]
    counts = list(config.labelled_per_class)
    # With ``balanced_labels`` the labelled images, repeated, are appended to the training set so
    # that half of each epoch carries labels (the paper does not say how it mixed them).
    length = 2 * len(x_train) if config.balanced_labels else len(x_train)

    def test_accuracy(phase, order, labelled):
        trained = train_phase(config, run_dir, phase, {**splits, "train": (x_train[order],
                                                                          y_train[order])},
                              [(config.alpha, config.beta, config.gamma)], [labelled],
                              evaluate_on=("test",), epochs=config.labels_epochs)
        return float(trained.scores["test"]["accuracy"][0])

    with_rest, without = [], []
    for k in counts:
        mask = xt.label_mask(y_train, k, config.seed + k)
        order, flags = np.arange(len(x_train)), mask
        if config.balanced_labels:
            order = np.concatenate([order, np.resize(np.flatnonzero(mask), len(x_train))])
            flags = np.concatenate([mask, np.ones(len(x_train), np.float32)])
        with_rest.append(test_accuracy(f"labels_with_unlabelled_{k}", order, flags))
        # Labelled images only, repeated to the same length: as many steps, the same program.
        without.append(test_accuracy(f"labels_only_{k}", np.resize(np.flatnonzero(mask), length),
                                     np.ones(length, np.float32)))
    totals = [10 * k for k in counts]
    run_dir.save_figure(viz.accuracy_vs_labels_plot(totals, {"with the unlabelled rest": with_rest,
                        "labelled images only": without}, full), "xcov_accuracy_vs_labels")
    return {"labelled_per_class": counts, "labelled_total": totals,
            "optimizer_steps": config.labels_epochs * (length // config.batch_size),
            "balanced_labels": config.balanced_labels,
            "test_accuracy_with_unlabelled": with_rest, "test_accuracy_labelled_only": without}


def study_options(config: XCovConfig, splits, run_dir) -> dict:
    """Minibatch size x max-norm constraint (the two details of the authors' notes), each one
    program of ``seeds`` seeds trained for ``epochs`` epochs."""
    rows = []
    for batch_size in config.option_batch_sizes:
        for max_norm in config.option_max_norms:
            trained = train_phase(config, run_dir, f"options_batch{batch_size}_maxnorm{max_norm:g}",
                                  splits, [(config.alpha, config.beta, config.gamma)] * config.seeds,
                                  evaluate_on=("test",), batch_size=batch_size, max_norm=max_norm)
            rows.append({"batch_size": batch_size, "max_norm": max_norm, **{
                f"test_{k}": mean_std(trained.scores["test"][k]) for k in ("accuracy",
                                                                          "reconstruction")},
                "best_epoch": trained.best_epoch.tolist()})
    return {"rows": rows}


def run(config: XCovConfig, run_dir) -> dict:
    check_config(config)
    start = time.perf_counter()
    summary = {"config": dataclasses.asdict(config), "provenance": run_dir.started()}
    splits = xt.load_splits(config.model, config.npz, config.train_examples)
    if config.npz:
        summary["npz"] = study_npz(config, splits, run_dir)
    elif config.study in ("table2", "all"):
        summary["table2"] = study_table2(config, splits, run_dir)
    if not config.npz and config.study in ("labels", "all"):
        full = (next(iter(summary["table2"]["rows"].values()))["test_accuracy"]["mean"]
                if "table2" in summary else None)
        summary["labels"] = study_labels(config, splits, run_dir, full)
    if config.study == "options":
        summary["options"] = study_options(config, splits, run_dir)
    summary["wall_seconds"] = time.perf_counter() - start
    (run_dir.path / "xcov.md").write_text(markdown(summary))
    return summary


def command(config: dict) -> str:
    """The `jaxdis run` command line that gives ``config`` (fields that differ from the default)."""
    default, parts = dataclasses.asdict(make_config(config.get("dataset"))), ["jaxdis run xcov"]
    for key, value in sorted(config.items()):
        if key != "dataset" and list(np.atleast_1d(value)) != list(np.atleast_1d(default[key])):
            text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            parts.append(f"--seeds {value}" if key == "seeds" else f"--set {key}={text}")
    return " ".join(parts)


def _pct(stats: dict) -> str:
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f}"


def _epochs_trained(config: dict, t2: dict) -> int:
    """The epochs the table2 phase trained: its validation curves' length (if it has them)."""
    curves = next(iter(t2["rows"].values())).get("validation_curve", {}).get("validation_accuracy")
    return len(curves[0]) if curves else config["epochs"]


def _epochs(config: dict, t2: dict) -> str:
    """How long the table2 phase trained: the epochs, or those trained of the most allowed."""
    trained = _epochs_trained(config, t2)
    if trained == config["epochs"] and not config.get("patience"):
        return f"{trained} epochs"
    return (f"{trained} of at most {config['epochs']} epochs (stopped once no model's validation "
            f"{config['selection']} had improved for {config['patience']} epochs)")


def markdown(summary: dict, figures=()) -> str:
    """The results as a markdown report, every number from ``summary``; ``figures`` (caption,
    link) pairs are shown at the end."""
    config, prov = summary["config"], summary["provenance"]
    data = f"`{config['npz']}`" if config.get("npz") else "MNIST"
    lines = [f"# XCov (Cheung et al. 2015) on {data}: our numbers beside the paper's", "",
             f"Device {prov['device']}, JAX {prov['jax_version']}, {prov['date']}, commit "
             f"{prov['commit']}, wall time {summary['wall_seconds']:.0f} s"
             + (f" (of the last process: resumed {prov['resumed']['date']} at commit "
                f"{prov['resumed']['commit']})." if prov.get("resumed") else "."), "",
             f"Command: `{command(config)}`", "",
             "Config: " + ", ".join(f"{k}={v}" for k, v in sorted(config.items()))]
    if "table2" in summary:
        t2, paper = summary["table2"], summary["table2"]["paper"]
        lines += ["", "## Table 2: MNIST accuracy (%, mean ± std over seeds)", "",
                  f"Model {config['model']}, selection by {config['selection']} on validation, "
                  f"{config['seeds']} seeds, {_epochs(config, t2)}, "
                  f"{t2.get('train_examples', config['train_examples'])} training images; paper: {paper['accuracy']} "
                  f"(alpha {paper['alpha']:g}, beta {paper['beta']:g}, gamma {paper['gamma']:g}, "
                  f"selection by {paper['selection']}; it does not say whether on validation or "
                  "test).", "",
                  "| run | validation | test | test U (eq. 4) | test XCov (eq. 6) | best epoch (1 = first) |",
                  "| --- | --- | --- | --- | --- | --- |"]
        main_first = lambda item: item[0] != f"gamma={config['gamma']:g}"  # JSON sorts keys
        for name, row in sorted(t2["rows"].items(), key=main_first):
            lines.append(f"| ours, alpha {config['alpha']:g}, beta {config['beta']:g}, {name} | "
                         f"{_pct(row['validation_accuracy'])} | {_pct(row['test_accuracy'])} | "
                         f"{row['test_reconstruction']['mean']:.2f} | "
                         f"{row['test_xcov']['mean']:.2e} | {[e + 1 for e in row['best_epoch']]} |")
        lines.append(f"| paper (Cheung et al. Table 2) | | {paper['accuracy']} | | | |")
        z = t2["z_test_std"]
        lines += ["", "## Fig. 4: z on the test set", "",
                  f"std of z (all units) {z['overall']:.3f}, per unit "
                  f"{', '.join(f'{s:.3f}' for s in z['per_unit'])}; paper: about {z['paper']}.",
                  "", "## The gamma ablation (seed 0)", "",
                  "| run | test XCov | linear probe: class from z (chance 0.10) | std of z (paper, "
                  f"Fig. 4a: about {PAPER_Z_STD}) | test accuracy |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {name} | {row['test_xcov']:.2e} | {row['probe_accuracy_from_z']:.3f} | "
                  + (f"{row['z_std']:.3f}" if "z_std" in row else "n/a")
                  + f" | {row['test_accuracy']:.4f} |"
                  for name, row in sorted(t2["ablation"].items(), key=main_first)]
        if t2.get("jacobian_spectra"):
            lines += ["", "## Fig. 5e: first normalised singular values (mean over classes)", ""]
            lines += [f"- {name}: " + ", ".join(f"{v:.3f}" for v in values)
                      for name, values in t2["jacobian_spectra"].items()]
        p = t2["parzen"]
        lines += ["", "## Table 5: Parzen-window log-likelihood (nats, test images)", "",
                  f"{p['samples']} samples, {p['test_images']} test images; bandwidth chosen on "
                  "validation images.", "", "| centres | bandwidth | log-likelihood |",
                  "| --- | --- | --- |"]
        for name in ("model", "train_images_upper_bound"):
            row = p[name]
            se = f" ± {row['standard_error']:.1f}" if "standard_error" in row else ""
            lines.append(f"| {name} | {row['bandwidth']:g} | {row['log_likelihood']:.1f}{se} |")
    if "npz" in summary:
        lines += _npz_markdown(summary["npz"], config)
    if "labels" in summary:
        lb = summary["labels"]
        lines += ["", "## Accuracy against labelled examples (test, seed 0)", "",
                  f"{lb['optimizer_steps']} optimizer steps each; "
                  + ("half of each epoch's examples labelled (labelled images repeated)."
                     if lb.get("balanced_labels") else "labelled examples at their natural share."),
                  "", "| labelled | with unlabelled rest | labelled only |", "| --- | --- | --- |"]
        for n, a, b in zip(lb["labelled_total"], lb["test_accuracy_with_unlabelled"],
                           lb["test_accuracy_labelled_only"]):
            lines.append(f"| {n} | {100 * a:.2f} | {100 * b:.2f} |")
    if "options" in summary:
        lines += ["", "## Minibatch size and max-norm (test, mean ± std over seeds)", "",
                  "| minibatch | max-norm | accuracy (%) | U (eq. 4) | best epoch (1 = first) |",
                  "| --- | --- | --- | --- | --- |"]
        for row in summary["options"]["rows"]:
            lines.append(f"| {row['batch_size']} | {row['max_norm'] or 'off'} | "
                         f"{_pct(row['test_accuracy'])} | {row['test_reconstruction']['mean']:.2f}"
                         f" ± {row['test_reconstruction']['std']:.2f} | {[e + 1 for e in row['best_epoch']]} |")
    if figures:
        lines += [""] + [f"![{caption}]({link})" for caption, link in figures]
    return "\n".join(lines) + "\n"


def _npz_markdown(result: dict, config: dict) -> list[str]:
    sets = ", ".join(f"{name} ({classes} classes)" for name, classes in result["label_sets"].items())
    lines = ["", f"## Model {result['model']} on the user's file", "",
             f"Label sets: {sets}. Examples (labelled per set): " + "; ".join(
                 f"{split} {n} ({', '.join(f'{k} {v}' for k, v in result['labelled'][split].items())})"
                 for split, n in result["examples"].items()) + ".", "",
             f"{config['seeds']} seeds, {config['epochs']} epochs, alpha {config['alpha']:g}, beta "
             f"{config['beta']:g}, gamma {config['gamma']:g}, selection by {config['selection']} on "
             f"validation; best epoch (1 = first) {[e + 1 for e in result['best_epoch']]}; "
             f"training {result['train_seconds']:.0f} s.", "",
             "| measure | validation | test |", "| --- | --- | --- |"]
    for name, stats in result["validation"].items():
        lines.append(f"| {name} (%) | {_pct(stats)} | {_pct(result['test'][name])} |")
    lines += [f"| {name} | | {result['test'][name]['mean']:.4g} ± {result['test'][name]['std']:.2g} |"
              for name in ("reconstruction", "xcov")]
    paper = result.get("paper")
    if paper:
        lines += ["", f"Paper (Cheung et al. Table 3, fold 0): {paper['accuracy']} (alpha "
                      f"{paper['alpha']:g}, beta {paper['beta']:g}, gamma {paper['gamma']:g}, "
                      f"selection by {paper['selection']})."]
    return lines


def table2_report(summaries: dict[str, dict]) -> str:
    """Cheung et al. Table 2 with our rows beside the paper's, from saved run summaries
    ({file name: summary.json contents}); every number is read from a summary."""
    lines = ["# XCov (Cheung et al. 2015): Table 2, MNIST accuracy, ours beside the paper's", "",
             "Assembled by `python -m experiments.xcov table2 experiments/results/xcov_table2.md "
             + " ".join(f"experiments/results/{name}" for name in summaries) + "` from the runs' "
             "summaries; each run's own report (its command, config and figures) is the file named "
             "in the last column. Accuracy in %, mean ± std over seeds, of the epoch each seed's "
             "validation score selected. The paper does not say whether it reports validation or "
             "test accuracy. Rows with fewer than 50,000 training images or few epochs were cut to "
             "fit a CPU budget, not chosen for accuracy; \"models in one program\" counts the "
             "seeds and ablation gammas trained together (the times cover them all).", "",
             "| model | paper | ours, validation | ours, test | seeds | epochs | training images | "
             "alpha, beta, gamma | selection | max-norm | models in one program | device, commit; "
             "training, whole run (s) | report |", "|" + " --- |" * 13]
    for name, summary in summaries.items():
        config, t2 = summary["config"], summary["table2"]
        row = t2["rows"][f"gamma={config['gamma']:g}"]
        images = t2.get("train_examples", config["train_examples"])
        lines.append(
            f"| {config['model']} | {t2['paper']['accuracy']} | {_pct(row['validation_accuracy'])} "
            f"| {_pct(row['test_accuracy'])} | {config['seeds']} | "
            f"{_epochs_trained(config, t2)} | {images} | "
            f"{config['alpha']:g}, {config['beta']:g}, {config['gamma']:g} | "
            f"{config['selection']} | {config.get('max_norm') or 'off'} | "
            f"{t2['models_trained_together']} | "
            f"{summary['provenance']['device']}, {summary['provenance']['commit']}; "
            f"{t2['train_seconds']:.0f}, {summary['wall_seconds']:.0f} | "
            f"{name.replace('.json', '.md')} |")
    lines += ["", "Commands:", ""] + [f"- {name.replace('.json', '.md')}: `{command(s['config'])}`"
                                      for name, s in summaries.items()]
    return "\n".join(lines) + "\n"


def _main(argv=None) -> None:
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(description="Reports from saved xcov runs.")
    commands = parser.add_subparsers(dest="what", required=True)
    table2 = commands.add_parser("table2", help="assemble Table 2 from saved run summaries")
    table2.add_argument("output", type=Path)
    table2.add_argument("summaries", type=Path, nargs="+", help="summary.json files of table2 runs")
    report = commands.add_parser("report", help="keep a finished run's report: NAME.md, "
                                 "NAME.json and figures/NAME_*.png in RESULTS")
    report.add_argument("run_dir", type=Path)
    report.add_argument("name")
    report.add_argument("results", type=Path, nargs="?",
                        default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    if args.what == "report":
        print(f"wrote {keep_run(args.run_dir, args.results, args.name, markdown, 'xcov_')}")
        return
    summaries = {path.name: json.loads(path.read_text()) for path in args.summaries}
    missing = [name for name, summary in summaries.items() if "table2" not in summary]
    if missing:
        raise SystemExit(f"summaries: {missing} hold no table2 study")
    args.output.write_text(table2_report(summaries))
    print(f"wrote {args.output}")


EXPERIMENT = Experiment(
    name="xcov", run=run, datasets=("mnist",), validate=check_config,
    summary="Cheung et al. 2015: XCov semi-supervised autoencoder on MNIST (Table 2, 5, Fig. 4-7)",
    make_config=make_config)


if __name__ == "__main__":
    _main()
