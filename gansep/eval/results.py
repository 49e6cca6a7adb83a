"""Per-track scores and their aggregation (median over frames, then median over tracks)."""

from __future__ import annotations

import numpy as np

from gansep.atomic import atomic_target
from gansep.data.audio import DataError
from gansep.eval.bsseval import METRICS, median_over_frames

#: What a per-track result row holds: BSSEval v4 (median over frames) and the whole-track
#: SI-SDR, which gansep stores beside museval's frames (museval's readers ignore it).
PERCEPTUAL = "Perceptual"  # a target's perceptual score (gansep.eval.perceptual)
TRACK_METRICS = ("SDR", "SIR", "SAR", "ISR", "SI-SDR", PERCEPTUAL)


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
                 hop: float = 1.0, si_sdr: list[float] | None = None) -> dict:
    """One track's framewise scores in museval's TrackStore layout (``musdb.schema.json``):
    ``{"targets": [{"name", "frames": [{"time", "duration", "metrics"}]}]}``, each target with
    its whole-track ``"SI-SDR"`` when ``si_sdr`` (one value per source) is given. Undefined
    values are null: NaN, and the infinite SIR of a track scored with one source (no
    interference to estimate)."""
    def value(x):
        return None if not np.isfinite(x) else round(float(x), 5)
    targets = []
    for k, source in enumerate(sources):
        frames = [{"time": t * hop, "duration": window,
                   "metrics": {m: value(scores[m][k, t]) for m in ("SDR", "SIR", "SAR", "ISR")}}
                  for t in range(scores["SDR"].shape[1])]
        target = {"name": source, "frames": frames}
        if si_sdr is not None:
            target["SI-SDR"] = value(si_sdr[k])
        targets.append(target)
    return {"targets": targets, "museval_version": "0.4.1", "gansep_backend": "bsseval-v4"}


def write_json_atomic(path, data) -> None:
    """Writes JSON atomically (see :func:`gansep.atomic.atomic_target`)."""
    import json

    with atomic_target(path) as tmp:
        with open(tmp, "w") as file:
            json.dump(data, file, indent=1, allow_nan=False)


def read_track_scores(folder) -> list[dict]:
    """Rows ``{track, source, SDR, SIR, SAR, ISR, SI-SDR, Perceptual}`` (BSSEval metrics:
    median over frames; SI-SDR and the perceptual score: whole track, NaN where the file has
    none) from every museval JSON file under
    ``folder/test``."""
    import json
    from pathlib import Path

    rows = []
    for path in sorted(Path(folder, "test").glob("**/*.json")):
        try:
            rows += _track_rows(path.stem, json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise DataError(f"{path}: not a readable museval result ({type(error).__name__}: "
                            f"{error})") from None
    return rows


def _track_rows(track: str, data: dict) -> list[dict]:
    rows = []
    for target in data["targets"]:
        row = {"track": track, "method": "gansep", "source": str(target["name"])}
        for metric in METRICS:
            values = [frame["metrics"][metric] for frame in target["frames"]]
            values = np.array([np.nan if v is None else v for v in values], dtype=float)
            row[metric] = float(median_over_frames(values[None])[0]) if len(values) else np.nan
        for name in ("SI-SDR", PERCEPTUAL):  # whole-track values, where stored
            value = target.get(name)
            row[name] = np.nan if value is None else float(value)
        rows.append(row)
    return rows


def aggregate_table(rows: list[dict]) -> tuple[str, str]:
    """Median over tracks of each source's per-track scores, for every metric: Markdown and
    CSV."""
    sources = list(dict.fromkeys(row["source"] for row in rows))
    metrics = [m for m in TRACK_METRICS  # a perceptual score only where one was computed
               if m != PERCEPTUAL or any(not np.isnan(r[m]) for r in rows)]
    medians = {m: median_over_tracks(rows, m) for m in metrics}
    tracks = len({row["track"] for row in rows})
    md = [f"Median over {tracks} tracks of the median over frames (BSSEval v4, dB); SI-SDR "
          "over whole tracks" + ("; Perceptual: predicted rating, median over excerpt-long "
                                 "windows" if PERCEPTUAL in metrics else ""), "",
          "| source | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    csv = ["source," + ",".join(metrics)]
    for source in sources:
        values = [medians[m].get(("gansep", source), float("nan")) for m in metrics]
        md.append(f"| {source} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
        csv.append(source + "," + ",".join(f"{v:.5f}" for v in values))
    undefined = [f"{row['track']} {row['source']}" for row in rows
                 if row["source"] in sources and row["SDR"] != row["SDR"]]
    if undefined:  # said, not hidden: the medians above leave these tracks out
        md += ["", f"Undefined (no frame with an audible reference and estimate, e.g. a silent "
                   f"estimate; left out of the medians): {len(undefined)} of "
                   f"{len(rows)}: " + ", ".join(undefined[:10])
               + (" ..." if len(undefined) > 10 else "")]
    return "\n".join(md) + "\n", "\n".join(csv) + "\n"
