"""Per-track scores and their aggregation (median over frames, then median over tracks)."""

from __future__ import annotations

import numpy as np


def median_over_tracks(rows: list[dict], key: str = "SDR") -> dict[tuple[str, str], float]:
    """``{(method, source): median of rows' key over tracks}``, NaN tracks left out."""
    groups: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["source"]), []).append(row[key])
    out = {}
    for group, values in groups.items():
        finite = [v for v in values if v == v]
        out[group] = float(np.median(finite)) if finite else float("nan")
    return out


def markdown_table(medians: dict[tuple[str, str], float], sources: list[str],
                   methods: list[str], metric: str = "SDR") -> str:
    """A Markdown table: one row per source, one column per method."""
    lines = ["| source | " + " | ".join(f"{m} {metric} (dB)" for m in methods) + " |",
             "|---|" + "---:|" * len(methods)]
    for source in sources:
        cells = [f"{medians.get((m, source), float('nan')):.2f}" for m in methods]
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
