"""Training-lab figures: gap, loss and recall at each temperature, runtime, cone effect.

Usage::

    .venv/bin/python benchmarks/training.py                 # the README's numbers (~4 min)
    .venv/bin/python benchmarks/training.py --epochs 5 --seeds 0   # quick look
    .venv/bin/python benchmarks/training.py --html out/     # also write the plotly figures

Trains TinyCLIP on ``SyntheticShapes(N, seed=0, image_size=32)`` at
τ ∈ {0.01, 0.05, 0.1, 1.0} for several seeds (same data, epochs and batch
order per seed), one CPU thread each, and prints Markdown tables: the final
gap / loss / recall per τ (mean ± sd over seeds), the gap over the epochs,
the seconds per run, the cone effect at random init and the embedding-shift
minima before/after training.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from amumo.data import SyntheticShapes
from amumo.training import cone_effect, embedding_shift, temperature_sweep
from amumo.training.experiments import TEMPERATURES


def _markdown(frame: pd.DataFrame, index: bool = True) -> str:
    """A pipe table (pandas' to_markdown needs the optional tabulate package)."""
    frame = frame.reset_index() if index else frame
    header = [str(c) for c in frame.columns]
    rows = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
            for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _mean_sd(frame: pd.DataFrame, by: str, columns: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(by)[columns]
    mean, sd = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    out = pd.DataFrame(index=mean.index)
    for column in columns:
        out[column] = [f"{m:.3f} ± {s:.3f}" for m, s in zip(mean[column], sd[column], strict=True)]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="pairs (default 2000)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--html", type=Path, default=None, help="folder for the figures")
    args = parser.parse_args(argv)

    ds = SyntheticShapes(args.n, seed=0, image_size=32)
    print(f"# Training lab: SyntheticShapes({args.n}, image_size=32), {args.epochs} epochs, "
          f"seeds {args.seeds}, probe 256 held-out pairs, batch 128, 1 thread\n")

    start = time.perf_counter()
    cone = cone_effect(ds, seeds=tuple(range(5)), max_pairs=500)
    cone_seconds = time.perf_counter() - start
    table = cone.data.pivot(index="seed", columns="modality", values="cone_cosine")
    table["gap_distance"] = cone.data.groupby("seed")["gap_distance"].first()
    centres = cone.details["centre_cosine"]
    images = [label for label in centres.index if label.startswith("image")]
    across = centres.loc[images, images].to_numpy()
    off_diagonal = across[~np.eye(len(images), dtype=bool)]
    print(f"## Cone effect at random init (500 pairs, 5 seeds, {cone_seconds:.1f} s)\n")
    print(_markdown(table))
    print(f"\ncosine between the image-cone centres of different seeds: mean "
          f"{off_diagonal.mean():.3f}, max |·| {abs(off_diagonal).max():.3f}\n")

    start = time.perf_counter()
    sweep = temperature_sweep(ds, TEMPERATURES, epochs=args.epochs, seeds=args.seeds)
    sweep_seconds = time.perf_counter() - start
    summary = sweep.details["summary"]
    columns = ["gap_distance", "loss", "probe_loss", "cone_cosine:image", "cone_cosine:text",
               "recall@1:image->text", "seconds"]
    print(f"## Final epoch per temperature (mean ± sd over {len(args.seeds)} seeds; "
          f"sweep took {sweep_seconds:.0f} s)\n")
    print(_markdown(_mean_sd(summary, "temperature", columns)))
    gaps = sweep.data.groupby(["temperature", "epoch"])["gap_distance"].mean().unstack("epoch")
    print("\n## Gap distance over the epochs (mean over seeds)\n")
    print(_markdown(gaps))
    losses = sweep.data.groupby(["temperature", "epoch"])["loss"].mean().unstack("epoch")
    print("\n## Training loss over the epochs (mean over seeds; each at its own τ)\n")
    print(_markdown(losses))

    print("\n## Embedding shift: λ of the lowest loss (probe set, loss at the training τ)\n")
    rows = []
    shifts = {}
    for t in (0.01, 1.0):
        result = embedding_shift(history=sweep.details["histories"][(t, args.seeds[0])])
        shifts[t] = result
        for _, r in result.details["minimum"].iterrows():
            rows.append({"trained at τ": t, "stage": r["stage"], "λ at minimum": r["lam_min"],
                         "loss there": r["loss_min"], "gap ‖Δ‖": r["gap_distance"]})
    print(_markdown(pd.DataFrame(rows), index=False))

    if args.html is not None:
        args.html.mkdir(parents=True, exist_ok=True)
        cone.figure.write_html(args.html / "cone_effect.html", include_plotlyjs=True)
        sweep.figure.write_html(args.html / "temperature_sweep.html", include_plotlyjs=True)
        for t, result in shifts.items():
            result.figure.write_html(args.html / f"embedding_shift_tau{t:g}.html",
                                     include_plotlyjs=True)
        print(f"\nfigures written to {args.html}/")


if __name__ == "__main__":
    main()
