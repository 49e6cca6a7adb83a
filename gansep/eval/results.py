"""Per-track scores and their aggregation (median over frames, then median over tracks)."""

from __future__ import annotations

import numpy as np

from gansep.data.audio import DataError
from gansep.eval.bsseval import METRICS, median_over_frames

GLOBAL_SDR = "uSDR"  # the MDX challenges' global SDR (gansep.eval.metrics.GlobalSDR)
#: The metrics every per-track row holds (NaN where a result has none), in table order; any
#: other metric a result holds (a perceptual score, a metric named in a run's config) follows.
STANDARD = ("SDR", "SIR", "SAR", "ISR", "SI-SDR")
PERCEPTUAL = "Perceptual"  # a target's perceptual score (gansep.eval.metrics.Perceptual)
_NOT_METRICS = ("name", "frames")


def median_over_tracks(rows: list[dict], key: str = "SDR") -> dict[tuple[str, str], float]:
    """``{(method, source): median of rows' key over tracks}``, NaN tracks (and rows without
    the key) left out."""
    groups: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["source"]), []).append(row.get(key, np.nan))
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
                 hop: float = 1.0, si_sdr: list[float] | None = None,
                 whole: dict[str, np.ndarray] | None = None) -> dict:
    """One track's framewise ``scores`` (``{metric: (sources, frames)}``) in museval's
    TrackStore layout (``musdb.schema.json``): ``{"targets": [{"name", "frames": [{"time",
    "duration", "metrics"}]}]}``; each target also holds its whole-track values, ``whole``
    (``{metric: (sources,)}``) and ``si_sdr`` (one value per source), under their names (museval's
    readers ignore them). Undefined values are null: NaN, and the infinite SIR of a track scored
    with one source (no interference to estimate)."""
    def value(x):
        return None if not np.isfinite(x) else round(float(x), 5)
    whole = dict(whole or {})
    if si_sdr is not None:
        whole["SI-SDR"] = np.asarray(si_sdr, dtype=float)
    counts = {np.shape(v)[1] for v in scores.values()}
    if len(counts) > 1:
        raise ValueError(f"framewise metrics with different frame counts {sorted(counts)}")
    frames_count = counts.pop() if counts else 0
    targets = []
    for k, source in enumerate(sources):
        frames = [{"time": t * hop, "duration": window,
                   "metrics": {m: value(v[k, t]) for m, v in scores.items()}}
                  for t in range(frames_count)]
        target = {"name": source, "frames": frames}
        target.update({name: value(v[k]) for name, v in whole.items()})
        targets.append(target)
    return {"targets": targets, "museval_version": "0.4.1", "gansep_backend": "bsseval-v4"}


def read_track_scores(folder) -> list[dict]:
    """Rows ``{track, method, source, <metric>...}`` from every museval JSON file under
    ``folder/test``: each framewise metric the median over frames, each whole-track value as
    stored; the `STANDARD` metrics always (NaN where a file has none), any other metric
    where some target holds it."""
    import json
    from pathlib import Path

    rows = []
    for path in sorted(Path(folder, "test").glob("**/*.json")):
        try:
            rows += track_rows(path.stem, json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise DataError(f"{path}: not a readable museval result ({type(error).__name__}: "
                            f"{error})") from None
    return rows


def metric_names(rows: list[dict]) -> list[str]:
    """The metrics of ``rows`` in table order: `STANDARD`, then the others as found."""
    names = dict.fromkeys(STANDARD)
    for row in rows:
        names.update(dict.fromkeys(k for k, v in row.items() if isinstance(v, float)))
    return list(names)


def track_rows(track: str, data: dict) -> list[dict]:
    rows = []
    for target in data["targets"]:
        row = {"track": track, "method": "gansep", "source": str(target["name"])}
        framewise = list(dict.fromkeys([*METRICS, *(name for frame in target["frames"]
                                                    for name in frame["metrics"])]))
        for metric in framewise:
            values = [frame["metrics"].get(metric) for frame in target["frames"]]
            values = np.array([np.nan if v is None else v for v in values], dtype=float)
            if np.isinf(values).any():
                raise ValueError(f"{metric} of {row['source']} is infinite in "
                                 f"{int(np.isinf(values).sum())} frame(s): a score that would "
                                 "be wrong (an estimate equal to its reference?) is refused")
            row[metric] = float(median_over_frames(values[None])[0]) if len(values) else np.nan
        row["SI-SDR"] = np.nan
        for name, value in target.items():  # whole-track values
            if name not in _NOT_METRICS and (value is None or isinstance(value, (int, float))):
                row[name] = np.nan if value is None else float(value)
                if np.isinf(row[name]):
                    raise ValueError(f"{name} of {row['source']} is infinite: refused")
        rows.append(row)
    return rows


def aggregate_table(rows: list[dict]) -> tuple[str, str]:
    """Median over tracks of each source's per-track scores, for every metric: Markdown and
    CSV (a metric beyond `STANDARD` only where some track has a value)."""
    sources = list(dict.fromkeys(row["source"] for row in rows))
    metrics = [m for m in metric_names(rows)
               if m in STANDARD or any(not np.isnan(r.get(m, np.nan)) for r in rows)]
    medians = {m: median_over_tracks(rows, m) for m in metrics}
    tracks = len({row["track"] for row in rows})
    others = [m for m in metrics if m not in STANDARD]
    plain = [m for m in others if m not in (PERCEPTUAL, GLOBAL_SDR)]
    md = [f"Median over {tracks} tracks of the median over frames (BSSEval v4, dB); SI-SDR "
          "over whole tracks" + ("; uSDR: the MDX challenges' global SDR of whole tracks (one "
                                 "energy ratio per track; the challenges report its mean over "
                                 "tracks)" if GLOBAL_SDR in metrics else "")
          + ("; Perceptual: predicted rating, median over excerpt-long windows"
             if PERCEPTUAL in metrics else "")
          + (f"; {', '.join(plain)}: per track" if plain else ""), "",
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
