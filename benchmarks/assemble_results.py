"""Writes an index file (benchmarks/RESULTS.md or experiments/RESULTS.md) from the markdown
reports that the benchmark and experiment scripts wrote into a results folder.

    python benchmarks/assemble_results.py benchmarks/results benchmarks/RESULTS.md
    python benchmarks/assemble_results.py experiments/results experiments/RESULTS.md

Nothing here is typed by hand: each section is one script's own report, included verbatim (with
relative links rewritten to stay valid), under a heading that names the file it came from.
"""

import argparse
import os
import re
from pathlib import Path

INTRO = {
    "benchmarks": "Measured speed. Each section below is the report a script in `benchmarks/` "
                  "wrote, with its command, device, date and commit. No GPU run has been made yet: "
                  "each report gives the command for one.",
    "experiments": "Reproductions. Each section below is the report an `experiments/` module "
                   "wrote, with its command, device, date, commit and wall time, the source work's "
                   "figures beside ours, and where ours fall short.",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    reports = sorted(p for p in args.results_dir.glob("*.md"))
    if not reports:
        raise SystemExit(f"results_dir {args.results_dir}: no .md reports found")
    prefix = os.path.relpath(args.results_dir, args.output.parent)
    kind = args.output.parent.name
    lines = [f"# {kind.capitalize()}: results", "",
             INTRO.get(kind, ""), "",
             f"Assembled by `python benchmarks/assemble_results.py {args.results_dir} {args.output}`.",
             ""]
    for report in reports:
        text = report.read_text()
        # Links relative to the results folder: keep them valid from the index's folder.
        text = re.sub(r"\]\((?!https?:|/|#)([^)]+)\)", lambda m: f"]({prefix}/{m.group(1)})", text)
        text = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", text, flags=re.MULTILINE)
        lines += [f"<!-- from {report.as_posix()} -->", text.rstrip(), "", "---", ""]
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output} from {len(reports)} reports")


if __name__ == "__main__":
    main()
