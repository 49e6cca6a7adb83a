"""Per-track scores and their aggregation (median over frames, then median over tracks)."""

from __future__ import annotations

import numpy as np

from gansep.eval.bsseval import median_over_frames


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


# ------------------------------------------------------------------ museval-format results
def museval_json(scores: dict[str, np.ndarray], sources: list[str], window: float = 1.0,
                 hop: float = 1.0) -> dict:
    """One track's framewise scores in museval's TrackStore layout (``musdb.schema.json``):
    ``{"targets": [{"name", "frames": [{"time", "duration", "metrics"}]}]}``."""
    def value(x):
        return None if np.isnan(x) else round(float(x), 5)
    targets = []
    for k, source in enumerate(sources):
        frames = [{"time": t * hop, "duration": window,
                   "metrics": {m: value(scores[m][k, t]) for m in ("SDR", "SIR", "SAR", "ISR")}}
                  for t in range(scores["SDR"].shape[1])]
        targets.append({"name": source, "frames": frames})
    return {"targets": targets, "museval_version": "0.4.1", "gansep_backend": "bsseval-v4"}


def write_json_atomic(path, data) -> None:
    """Writes JSON atomically (see :func:`gansep.atomic.atomic_target`)."""
    import json

    from gansep.atomic import atomic_target

    with atomic_target(path) as tmp:
        with open(tmp, "w") as file:
            json.dump(data, file, indent=1, allow_nan=False)


def read_track_scores(folder) -> list[dict]:
    """Rows ``{track, source, SDR, SIR, SAR, ISR}`` (median over frames) from every museval
    JSON file under ``folder/test``."""
    import json
    from pathlib import Path

    rows = []
    for path in sorted(Path(folder, "test").glob("**/*.json")):
        data = json.loads(path.read_text())
        for target in data["targets"]:
            row = {"track": path.stem, "method": "gansep", "source": target["name"]}
            for metric in ("SDR", "SIR", "SAR", "ISR"):
                values = [f["metrics"][metric] for f in target["frames"]]
                values = np.array([np.nan if v is None else v for v in values], dtype=float)
                row[metric] = float(median_over_frames(values[None])[0]) if len(values) else np.nan
            rows.append(row)
    return rows


def aggregate_table(rows: list[dict]) -> tuple[str, str]:
    """Median over tracks of each source's per-track medians, for every metric: Markdown and
    CSV."""
    sources = list(dict.fromkeys(row["source"] for row in rows))
    metrics = ("SDR", "SIR", "SAR", "ISR")
    medians = {m: median_over_tracks(rows, m) for m in metrics}
    tracks = len({row["track"] for row in rows})
    md = [f"Median over {tracks} tracks of the median over frames (BSSEval v4, dB)", "",
          "| source | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    csv = ["source," + ",".join(metrics)]
    for source in sources:
        values = [medians[m].get(("gansep", source), float("nan")) for m in metrics]
        md.append(f"| {source} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
        csv.append(source + "," + ",".join(f"{v:.5f}" for v in values))
    return "\n".join(md) + "\n", "\n".join(csv) + "\n"
