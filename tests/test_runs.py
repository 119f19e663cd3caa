"""jaxdis.runs: run folders, where a run started, and keeping a run among the results."""

import json

from jaxdis.runs import RunDir, keep_run, provenance


def test_a_run_keeps_where_it_started_when_another_process_resumes_it(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    assert run_dir.started()["commit"] == provenance()["commit"]  # no run.json: now
    first = {"commit": "abc1234", "date": "2026-01-01 00:00:00 UTC", "device": "cpu:cpu"}
    run_dir.write_json("run.json", {"experiment": "x", "started": first})
    assert run_dir.started() == first  # what `jaxdis run` recorded at the start, not now


def test_keep_run_copies_the_summary_and_figures_and_links_them_in_the_report(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    run_dir.write_json("summary.json", {"score": 0.5})
    (run_dir.figures / "xcov_curves.png").write_bytes(b"png")
    results = tmp_path / "results"

    def markdown(summary, figures):
        return f"score {summary['score']}\n" + "".join(f"![{c}]({link})\n" for c, link in figures)

    report = keep_run(run_dir.path, results, "row", markdown, strip_prefix="xcov_")
    assert report.read_text() == "score 0.5\n![xcov_curves](figures/row_curves.png)\n"
    assert (results / "figures" / "row_curves.png").read_bytes() == b"png"
    assert json.loads((results / "row.json").read_text()) == {"score": 0.5}
