"""Pick the built-in generated samples from the shipped default's stored test predictions.

For each kind the app may ship (samples/README.md says why only these), the test image with the
median stored P(fake) (what the model usually does) and the one with the lowest (its worst miss).
Prints the table for samples/README.md; with ``--copy`` it also copies the files into samples/
and writes their rows of the data set's SOURCES.tsv to samples/SOURCES.tsv.

    python scripts/pick_samples.py --data ../shared/data [--copy]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("stylegan2_tpdne", "sd21", "gan256")


def pick(results: dict) -> list[tuple[str, str, str, float, int]]:
    """(file id, kind, picked as, P(fake), n) of the median and the lowest test image of each kind."""
    picked = []
    for kind in KINDS:
        rows = sorted(
            (row for row in results["predictions"] if row["kind"] == kind and row.get("p_fake") is not None),
            key=lambda row: row["p_fake"],
        )
        median = rows[(len(rows) - 1) // 2]
        for row, how in ((median, f"median of {len(rows)}"), (rows[0], f"lowest of {len(rows)}")):
            picked.append((row["id"], kind, how, row["p_fake"], len(rows)))
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data", help="the folder holding faces/ and SOURCES.tsv")
    parser.add_argument("--copy", action="store_true", help="copy the picked files and their SOURCES.tsv rows")
    args = parser.parse_args()
    results = json.loads((ROOT / "model" / "evaluation" / "default.json").read_text(encoding="utf-8"))
    threshold = results["threshold"]
    print(f"model {results['model_id']}, threshold {threshold:.2f}\n")
    print("| file | kind | picked as | stored P(fake) | default model |\n|---|---|---|---|---|")
    picked = pick(results)
    for record_id, kind, how, p_fake, _ in picked:
        verdict = "Fake" if p_fake >= threshold else "**missed** (Real)"
        print(f"| `{Path(record_id).name}` | {kind} | {how} | {p_fake:.3f} | {verdict} |")
    if not args.copy:
        return
    data = Path(args.data)
    with open(data / "SOURCES.tsv", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        fields, rows = reader.fieldnames, {row["file"]: row for row in reader}
    samples = ROOT / "samples"
    for old in samples.glob("*.jpg"):
        old.unlink()
    with open(samples / "SOURCES.tsv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        for record_id, *_ in picked:
            shutil.copyfile(data / "faces" / record_id, samples / Path(record_id).name)
            writer.writerow(rows[f"faces/{record_id}"])


if __name__ == "__main__":
    main()
