"""Write the model card `models/<name>.md` from the exported file, its run and the evaluation.

python scripts/model_card.py --model models/fixative-g2.onnx --run runs/g2 \
    --notes docs/model/fixative-g2-notes.md
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import onnx
from export_onnx import generator_from_onnx, sha256_of
from generator import count_parameters

REPO = Path(__file__).resolve().parent.parent


def curve_summary(log: Path, every: int = 200) -> list[str]:
    rows = list(csv.DictReader(log.open()))
    out = ["| steps | mean latent distortion (under EOT) | universality |", "|---|---|---|"]
    for start in range(0, len(rows), every):
        chunk = rows[start : start + every]
        d = sum(float(r["distortion"]) for r in chunk) / len(chunk)
        u = sum(float(r["universality"]) for r in chunk) / len(chunk)
        out.append(f"| {int(chunk[0]['step'])}–{int(chunk[-1]['step'])} | {d:.3f} | {u:.3f} |")
    return out


def card(model: Path, run: Path, evaluation: dict, table_md: str) -> str:
    meta = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    params = count_parameters(generator_from_onnx(model))
    eps = json.loads(meta["fixative.epsilon"])
    cfg = json.loads((run / "config.json").read_text())
    data = (run / "data.txt").read_text().split()
    files = data[0::2]
    # Debian-package images are named `<package>__<path>` by scripts/fetch_training_data.py.
    dev = [f for f in files if "__" not in f]
    packages = Counter(f.split("__")[0] for f in files if "__" in f)
    extra = ", ".join(f"{n} from `{k}`" for k, n in sorted(packages.items()))
    data_line = (
        f"{len(dev)} development images (`scripts/train.py --data`, evaluation images excluded by"
        " name; list in `scripts/dataset.py`)"
        + (
            f" and {sum(packages.values())} Debian-package images ({extra};"
            " `scripts/fetch_training_data.py`, evaluation sources and their variants excluded)"
            if packages
            else ""
        )
    )
    warm = cfg.get("init_from")
    gen_rt = evaluation["gen_s_per_mp"]
    lines = [
        f"# Model card: `{model.name}`",
        "",
        "A feed-forward perturbation generator following the model contract in `models/README.md`.",
        "",
        "| field | value |",
        "|---|---|",
        f"| sha256 | `{sha256_of(model)}` |",
        f"| model id | `{meta['fixative.model_id']}` |",
        f"| parameters | {params:,} |",
        f"| architecture | `{meta['fixative.architecture']}` (see `scripts/generator.py`) |",
        f"| compute | {gen_rt:.3f} s per megapixel on 2 CPU cores"
        " (onnxruntime, measured by `scripts/evaluate.py`) |",
        f"| receptive field / tile overlap | {meta['fixative.receptive_field']} px"
        f" / {meta['fixative.tile_overlap']} px |",
        "| budget per strength (L∞, 8-bit steps) | "
        + ", ".join(f"{k} {v * 255:.0f}/255" for k, v in eps.items())
        + f"; trained at {float(meta['fixative.trained_epsilon']) * 255:.0f}/255 |",
        f"| target encoder | TAEF2 encoder, `{meta['fixative.target_encoder']}` |",
        f"| training steps | {meta['fixative.training_steps']}"
        + (f", warm-started from `{warm}`" if warm else "")
        + " |",
        f"| training data | {data_line}, digest `{meta['fixative.training_data_digest']}` |",
        f"| training config | digest `{meta['fixative.config_digest']}` |",
        "",
        "## Training configuration",
        "",
        "```json",
        json.dumps(cfg, indent=2, sort_keys=True),
        "```",
        "",
        "Development images trained on: " + ", ".join(f"`{f}`" for f in dev) + ".",
        "",
        "## Training curve",
        "",
        *curve_summary(run / "log.csv"),
        "",
        "## Measured on unseen images (`scripts/evaluate.py`)",
        "",
        table_md.strip(),
        "",
        "![evaluation grid](../docs/images/eval-grid.png)",
        "",
        "Grid columns: original | protected | perturbation ×10 |"
        " TAEF2 reconstruction of the original | of the protected image.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--eval", type=Path, default=REPO / "docs" / "evaluation.json")
    p.add_argument("--eval-md", type=Path, default=REPO / "docs" / "evaluation.md")
    p.add_argument(
        "--notes", type=Path, help="Markdown appended to the card (objective choice, limits)"
    )
    args = p.parse_args(argv)
    evaluation = json.loads(args.eval.read_text())
    text = card(args.model, args.run, evaluation, args.eval_md.read_text())
    if args.notes:
        text += "\n" + args.notes.read_text()
    out = args.model.with_suffix(".md")
    out.write_text(text)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
