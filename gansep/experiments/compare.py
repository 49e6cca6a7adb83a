"""Comparing training objectives on their test results (``gansep compare RUN_DIR... --out DIR``).

Each run folder (a sweep run, or any folder holding ``results/test/*.json`` or ``test/*.json``
in museval's format) is one seed of one objective; the objective is the run's
``model.init_args.objective`` parameter (``params.json``) or, failing that, the folder name,
plus every other parameter that differs between the runs compared (the seed excepted: see
`run_labels`), so that e.g. the two data conditions of one sweep are never pooled.
Per metric, objective and source, the per-track scores of all its seeds are pooled (SDR, SIR,
SAR, ISR: median over frames; SI-SDR: whole track): the table gives their median and
interquartile range. Against ``--baseline``, a paired
Wilcoxon signed-rank test over tracks (each track's score averaged over seeds) gives the
p-value and the median difference. A box plot shows per-track SDR per objective.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from gansep.atomic import atomic_target, replaced_folder
from gansep.data.audio import DataError
from gansep.errors import ConfigError
from gansep.eval.ambiguity import DECIDED, PhraseScore, by_voice, summary
from gansep.eval.evaluate import PROVENANCE
from gansep.eval.transcribe import LyricsErrors
from gansep.eval.metrics import Ambiguity
from gansep.eval.results import PERCEPTUAL, STANDARD, metric_names, read_track_scores
from gansep.eval.statistics import bootstrap_ci, hierarchical_bootstrap, holm, rank_biserial
from gansep.eval.transcribe import add_counts, rates
from gansep.experiments.ambiguity_report import check_controls, controls_markdown, plot_curves
from gansep.experiments.sweep import PRETRAIN
from gansep.plots import pyplot, save_figure

log = logging.getLogger(__name__)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: unreadable ({error})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object")
    return data


LYRICS_WEIGHT = "model.init_args.objective.init_args.lyrics.init_args.weight"
OBJECTIVE = "model.init_args.objective"


SEED = "seed_everything"


def _params(run: Path) -> dict:
    params = run / "params.json"
    return _read_json(params) if params.exists() else {}


def _short(value) -> str:
    """A path's last part, without a YAML preset's extension (``generator=demo-htdemucs``)."""
    text = str(value)
    if "/" not in text:
        return text
    path = Path(text)
    return path.stem if path.suffix in (".yaml", ".yml") else path.name


def run_labels(runs: list[Path]) -> dict[Path, str]:
    """Each run's label: `objective_of`, plus ``name=value`` for every other parameter
    whose value differs between the runs compared, the seed excepted (the last part of the
    key; a path's last part, a preset's without ``.yaml``), e.g. ``l1 root=ambiguous-timbre``,
    ``l1 generator=demo-htdemucs``: runs that differ in more than
    their seed are never pooled."""
    params = {run: _params(run) for run in runs}
    keys = dict.fromkeys(k for values in params.values() for k in values)
    varying = [k for k in keys if k not in (SEED, OBJECTIVE, LYRICS_WEIGHT)
               and len({json.dumps(values.get(k), sort_keys=True)
                        for values in params.values()}) > 1]
    labels = {}
    for run in runs:
        suffix = "".join(f" {key.rsplit('.', 1)[-1]}={_short(params[run].get(key))}"
                         for key in varying)
        labels[run] = objective_of(run) + suffix
    return labels


def objective_of(run: Path) -> str:
    """A run's objective label: its objective preset's name (a fitted ``DIR/objective.yaml``:
    DIR's name), plus the lyrics weight when the sweep varies it (``l1+lyrics lyrics=0.1``)."""
    values = _params(run)
    if values:
        value = values.get(OBJECTIVE)
        if value is not None:
            path = Path(str(value))
            # A fitted objective is <folder>/objective.yaml: the folder names it.
            label = path.parent.name if path.stem == "objective" and path.parent.name \
                else path.stem
            if LYRICS_WEIGHT in values:
                label += f" lyrics={values[LYRICS_WEIGHT]}"
            return label
    return run.name


def lyrics_table(runs: list[Path], labels: dict[Path, str]) -> str | None:
    """Per objective, the lyrics head's CER and WER over every annotated test line of its
    runs (edit counts summed over tracks and seeds), as Markdown; None when no run has them."""
    totals: dict[str, dict] = {}
    for run in runs:
        for path in _result_files(run):
            entry = _read_json(path).get(LyricsErrors.key)
            if not entry:
                continue
            total = totals.setdefault(labels[run], {"runs": set()})
            total["runs"].add(run.name)
            add_counts(total, entry)
    if not totals:
        return None
    lines = ["| objective | runs | lines | CER (%) | WER (%) |", "|---|---:|---:|---:|---:|"]
    for objective, total in sorted(totals.items()):
        values = rates(total)
        lines.append(f"| {objective} | {len(total['runs'])} | {total['lines']} | "
                     f"{100 * values['CER']:.1f} | {100 * values['WER']:.1f} |")
    return "\n".join(lines) + "\n"


def _result_files(run: Path) -> list[Path]:
    folder = run / "results" if (run / "results" / "test").is_dir() else run
    return sorted((folder / "test").glob("*.json"))


def ambiguity_scores(runs: list[Path], labels: dict[Path, str]
                     ) -> dict[tuple[str, str], dict[str, dict[str, list[PhraseScore]]]]:
    """``{(objective, source): {run: {track: phrase scores}}}``: the per-phrase gains the
    ambiguity metric stored in each result, kept by run (seed) and track, the nesting the
    intervals resample."""
    pooled: dict[tuple[str, str], dict[str, dict[str, list[PhraseScore]]]] = {}
    for run in runs:
        for path in _result_files(run):
            details = _read_json(path).get(Ambiguity.details_key) or {}
            for source, phrases in details.items():
                try:
                    scores = [PhraseScore.from_row(path.stem, row) for row in phrases]
                except (KeyError, TypeError, ValueError) as error:
                    raise DataError(f"{path}: unreadable {Ambiguity.details_key} "
                                    f"({type(error).__name__}: {error})") from None
                by_run = pooled.setdefault((labels[run], source), {})
                by_run.setdefault(str(run), {})[path.stem] = scores
    return pooled


def _statistics(source: str) -> dict:
    """The statistics of a set of phrase scores that the ambiguity table gives intervals of."""
    def agreement(scores):
        return float(np.mean([(x.gain > 0.5) == (x.phrase.assigned == source) for x in scores]))
    return {"decided": _decided_share,
            "mean_g": lambda scores: float(np.mean([x.gain for x in scores])),
            "median_g": lambda scores: float(np.median([x.gain for x in scores])),
            "agreement": agreement,
            "SDR": lambda scores: float(np.nanmedian([x.sdr for x in scores])),
            "choice_SDR": lambda scores: float(np.nanmedian([x.choice_sdr for x in scores]))}


def _flat(groups: dict) -> list[PhraseScore]:
    return [score for tracks in groups.values() for scores in tracks.values()
            for score in scores]


def _decided_share(scores: list[PhraseScore]) -> float:
    gains = np.array([s.gain for s in scores])
    return float(((gains < DECIDED[0]) | (gains > DECIDED[1])).mean())


def decided_by_track(groups: dict) -> dict[str, float]:
    """Each track's share of phrases decided, over the runs (seeds) that scored it."""
    tracks: dict[str, list[PhraseScore]] = {}
    for by_track in groups.values():
        for track, scores in by_track.items():
            tracks.setdefault(track, []).extend(scores)
    return {track: _decided_share(scores) for track, scores in tracks.items() if scores}


def ambiguity_table(runs: list[Path], labels: dict[Path, str], out: Path,
                    baseline: str | None = None, comparable: set[str] | None = None
                    ) -> str | None:
    """Writes ``compare-ambiguity.md`` (first the experiment's controls, see
    `gansep.experiments.ambiguity_report`; then per source the objectives ranked by the share
    of backing phrases decided, with 95 % intervals that resample seeds and, within them,
    tracks; against ``baseline`` a Wilcoxon test over tracks of the share decided,
    Holm-corrected), ``ambiguity-histograms.png`` (the histogram of ``g`` of each objective)
    and ``ambiguity-curves.png`` (validation agreement and ``g`` against the step, pretraining
    runs included); returns the Markdown, or None when no result holds phrase gains."""
    from scipy.stats import wilcoxon

    pooled = ambiguity_scores(runs, labels)
    if not pooled:
        return None
    sources = list(dict.fromkeys(source for _, source in pooled))
    first = "vocals" if "vocals" in sources else sources[0]
    scores = {run: _flat({str(run): pooled.get((labels[run], first), {}).get(str(run), {})})
              for run in runs}
    controls = check_controls(runs, {run: objective_of(run) for run in runs}, scores, first)
    lines = [controls_markdown(controls), "## Objectives", "",
             "Backing phrases on ambiguous data, pooled over tracks and seeds (g: the share of "
             f"the backing voice kept; decided: g < {DECIDED[0]} or g > {DECIDED[1]}; SDR and "
             "choice SDR: median over phrases against the assigned and against the nearer "
             "valid target; [95 % interval: seeds, then tracks within them, resampled]; p: "
             "Wilcoxon over tracks of the share decided against the baseline, "
             "Holm-corrected), ranked by the share decided", "",
             "| source | objective | runs | phrases | decided | mean g | median g | agreement | "
             "SDR (dB) | choice SDR (dB) | p decided |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for source in sources:
        objectives = [o for (o, s) in pooled if s == source]
        tests = {}
        if baseline is not None and (baseline, source) in pooled:
            reference = decided_by_track(pooled[(baseline, source)])
            for objective in objectives:
                if objective == baseline or (comparable is not None
                                             and objective not in comparable):
                    continue
                mine = decided_by_track(pooled[(objective, source)])
                differences = [mine[t] - reference[t] for t in sorted(set(mine) & set(reference))]
                tests[objective] = (float(wilcoxon(differences).pvalue)
                                    if len(differences) >= 2 and np.any(differences) else np.nan)
            tests = dict(zip(tests, holm(list(tests.values()))))
        rows = []
        for objective in objectives:
            groups = pooled[(objective, source)]
            scores = _flat(groups)
            v = summary(scores, source)
            intervals = {name: hierarchical_bootstrap(groups, function, n_resamples=1000)
                         for name, function in _statistics(source).items()}
            rows.append((objective, v, intervals, len(groups)))
        for objective, v, ci, count in sorted(rows, key=lambda row: -row[1]["decided"]):
            p = "(baseline)" if objective == baseline else (
                "" if objective not in tests else _shown(tests[objective], ".3g"))

            def cell(name, percent, spec=".3f"):
                point, low, high = ci[name]
                return (f"{100 * point:.1f} % [{100 * low:.1f}, {100 * high:.1f}]" if percent
                        else f"{point:{spec}} [{low:{spec}}, {high:{spec}}]")
            lines.append(f"| {source} | {objective} | {count} | {v['phrases']} | "
                         f"{cell('decided', True)} | {cell('mean_g', False)} | "
                         f"{cell('median_g', False)} | {cell('agreement', True)} | "
                         f"{cell('SDR', False, '.2f')} | {cell('choice_SDR', False, '.2f')} | "
                         f"{p} |")
    lines += _voice_lines(pooled, first)
    markdown = "\n".join(lines) + "\n"
    with atomic_target(out / "compare-ambiguity.md") as tmp:
        Path(tmp).write_text(markdown)
    _ambiguity_histograms({key: _flat(groups) for key, groups in pooled.items()}, sources[0],
                          out / "ambiguity-histograms.png")
    _curves(runs, labels, out / "ambiguity-curves.png")
    return markdown


def _voice_lines(pooled: dict, source: str) -> list[str]:
    """Markdown of each objective's phrases split by the backing voice that sings them (where
    the data records it): a separator that keeps one voice and drops the other decides its
    phrases by voice, not by the assignment."""
    rows = []
    for (objective, key), groups in pooled.items():
        if key == source:
            rows += [f"| {objective} | {voice} | {v['phrases']} | {100 * v['decided']:.1f} % | "
                     f"{v['mean_g']:.3f} | {100 * v['agreement']:.1f} % |"
                     for voice, v in by_voice(_flat(groups), source).items()]
    if not rows:
        return []
    return ["", f"By backing voice ({source}, pooled over tracks and seeds):", "",
            "| objective | voice | phrases | decided | mean g | agreement |",
            "|---|---|---:|---:|---:|---:|", *rows]


def _curves(runs: list[Path], labels: dict[Path, str], path: Path) -> None:
    """The validation curves of the runs and, for a two-stage sweep, of its pretraining runs
    (``<runs-dir>/pretrain/``, one line per data folder, averaged over seeds)."""
    pretraining = sorted({status.parent for run in runs
                          for status in (run.parent / PRETRAIN).glob("*/status.json")
                          if _read_json(status).get("status") == "finished"})
    panels = {"fine-tuning" if pretraining else "training": _grouped(runs, labels)}
    if pretraining:
        named = {run: "pretraining" + "".join(
            f" {key.rsplit('.', 1)[-1]}={_short(value)}" for key, value in _params(run).items()
            if key not in (SEED, OBJECTIVE) and key.startswith("data."))
            for run in pretraining}
        panels = {"pretraining": _grouped(pretraining, named), **panels}
    plot_curves(panels, path)


def _grouped(runs: list[Path], labels: dict[Path, str]) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    for run in runs:
        groups.setdefault(labels[run], []).append(run)
    return groups


def _ambiguity_histograms(pooled: dict, source: str, path: Path) -> None:
    plt = pyplot()

    objectives = sorted((o for o, s in pooled if s == source),
                        key=lambda o: -summary(pooled[(o, source)], source)["decided"])
    columns = min(6, len(objectives))  # rows of six panels: readable at any count
    rows = -(-len(objectives) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns + 1, 2.6 * rows),
                                squeeze=False, sharey=True)
    for axis in axes.flat[len(objectives):]:
        axis.set_visible(False)
    for axis, objective in zip(axes.flat, objectives):
        gains = np.clip([s.gain for s in pooled[(objective, source)]], -0.25, 1.25)
        axis.hist(gains, bins=30, range=(-0.25, 1.25))
        for edge in DECIDED:
            axis.axvline(edge, color="grey", linestyle=":")
        axis.set_title(objective.replace(" ", "\n", 1), fontsize=8)
        axis.set_xlabel(f"g ({source})")
    for row in axes:
        row[0].set_ylabel("backing phrases")
    figure.tight_layout()
    save_figure(figure, path, dpi=110)


#: The provenance keys that record the digests of the audio a track was scored against:
#: ``score`` records the reference stems, ``evaluate`` and ``test`` the track's files.
REFERENCE_KEYS = ("references_sha256", "data_sha256")


def reference_digests(run: Path) -> dict[str, dict[str, str]]:
    """``{track: {file name: SHA-256}}`` of the audio each of ``run``'s results was scored
    against, as its provenance records them (tracks whose results record none are left out)."""
    digests = {}
    for path in _result_files(run):
        try:
            provenance = _read_json(path).get(PROVENANCE) or {}
        except DataError:
            continue  # load_runs says what is wrong with the file
        if not isinstance(provenance, dict):
            continue
        files = {}
        for key in REFERENCE_KEYS:
            if isinstance(provenance.get(key), dict):
                files.update(provenance[key])
        if files:
            digests[path.stem] = files
    return digests


def _condition(run: Path) -> str:
    """What a run was compared under besides its objective and seed: its other parameters
    (the data folder of a data condition, a generator, ...), as one key."""
    return json.dumps({k: v for k, v in _params(run).items()
                       if k not in (SEED, OBJECTIVE, LYRICS_WEIGHT)}, sort_keys=True)


def check_same_references(runs: list[Path]) -> None:
    """ConfigError naming two runs and a track when, under one condition (the same
    parameters besides objective and seed: e.g. one data folder), they scored that track
    against different audio (a file of the same name whose digest differs): their scores are
    of different tasks, and a paired test over them would be wrong. Runs of different
    conditions (two data folders whose tracks share names) are compared only within each."""
    seen: dict[tuple[str, str], dict[str, tuple[str, Path]]] = {}
    for run in runs:
        condition = _condition(run)
        for track, files in reference_digests(run).items():
            known = seen.setdefault((condition, track), {})
            for name, digest in files.items():
                if name in known and known[name][0] != digest:
                    raise ConfigError(
                        f"{known[name][1]} and {run} were scored against different references "
                        f"for track {track} ({name} differs): refused, their scores cannot be "
                        "compared track by track")
                known.setdefault(name, (digest, run))


def content_digest(run: Path) -> str:
    """The SHA-256 of a run's parameters and result files (names and bytes; the results record
    the checkpoint's digest and the scoring options): two folders holding the same run (a
    copy) have the same digest, whatever their names."""
    digest = hashlib.sha256(json.dumps(_params(run), sort_keys=True).encode() + b"\0")
    for path in _result_files(run):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def distinct_runs(runs: list[Path]) -> list[Path]:
    """``runs`` with each run counted once: by its folder (named twice, or through a link) and
    by its content (a copied run folder is no second seed: it would double n)."""
    by_folder: dict[Path, Path] = {}
    for run in runs:
        by_folder.setdefault(run.resolve(), run)
    by_content: dict[str, Path] = {}
    for run in by_folder.values():
        key = content_digest(run)
        if key in by_content:
            log.warning("%s holds the same results as %s (a copy?): counted once", run,
                        by_content[key])
            continue
        by_content[key] = run
    return list(by_content.values())


def load_runs(runs: list[Path], labels: dict[Path, str]) -> list[dict]:
    """Rows ``{objective, run, track, source, SDR, SIR, SAR, ISR, SI-SDR}``."""
    rows = []
    for run in runs:
        folder = run / "results" if (run / "results" / "test").is_dir() else run
        if not (folder / "test").is_dir():
            raise ConfigError(f"{run}: no results (expected {run}/results/test/*.json)")
        for row in read_track_scores(folder):
            rows.append({"objective": labels[run], "run": run.name, **row})
    return rows


def summarise(rows: list[dict], baseline: str | None, metric: str = "SDR",
              comparable: set[str] | None = None) -> dict:
    """Per (objective, source): median, quartiles and count of the pooled per-track scores;
    and, against the baseline, the paired test over tracks (`paired_test`), its p-values
    Holm-corrected per source over the objectives tested against the baseline: those in
    ``comparable`` (the baseline's condition, e.g. its data folder; None: all)."""
    from scipy.stats import wilcoxon

    table = {}
    objectives = list(dict.fromkeys(r["objective"] for r in rows))
    sources = list(dict.fromkeys(r["source"] for r in rows))
    for objective in objectives:
        for source in sources:
            values = np.array([r.get(metric, np.nan) for r in rows
                               if r["objective"] == objective and r["source"] == source],
                              dtype=float)
            values = values[~np.isnan(values)]
            if not len(values):
                continue
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            entry = {"median": median, "q1": q1, "q3": q3, "n": len(values)}
            if (baseline is not None and objective != baseline
                    and (comparable is None or objective in comparable)):
                entry.update(paired_test(rows, objective, baseline, source, metric, wilcoxon))
            table[(objective, source)] = entry
    for source in sources:  # one family per source: the objectives against the baseline
        tested = [key for key in table if key[1] == source and "p_value" in table[key]]
        for key, corrected in zip(tested, holm([table[key]["p_value"] for key in tested])):
            table[key]["p_holm"] = float(corrected)
    return table


def per_track_means(rows, objective, source, metric) -> dict[str, float]:
    tracks: dict[str, list[float]] = {}
    for r in rows:
        if (r["objective"] == objective and r["source"] == source
                and not np.isnan(r.get(metric, np.nan))):
            tracks.setdefault(r["track"], []).append(r.get(metric, np.nan))
    return {t: float(np.mean(v)) for t, v in tracks.items()}


def paired_test(rows, objective, baseline, source, metric, wilcoxon) -> dict:
    """Over the tracks both have (each track's score averaged over seeds): the median
    difference with its 95 % bootstrap interval (resampling tracks), the Wilcoxon
    signed-rank p-value and the matched-pairs rank-biserial correlation (its effect size)."""
    a = per_track_means(rows, objective, source, metric)
    b = per_track_means(rows, baseline, source, metric)
    common = sorted(set(a) & set(b))
    differences = np.array([a[t] - b[t] for t in common])
    out = {"paired_tracks": len(common),
           "median_difference": float(np.median(differences)) if len(common) else np.nan,
           "difference_low": np.nan, "difference_high": np.nan, "p_value": np.nan,
           "effect_size": rank_biserial(differences) if len(common) else np.nan}
    if len(common):
        out["difference_low"], out["difference_high"] = bootstrap_ci(
            differences, np.median, n_resamples=1999, method="percentile")
    if len(common) >= 2 and np.any(differences != 0):
        out["p_value"] = float(wilcoxon(differences).pvalue)
    return out


#: The CSV's columns: every one but objective and source a number (empty: none).
CSV_COLUMNS = ("objective", "source", "median", "q1", "q3", "n", "median_difference",
               "difference_low", "difference_high", "p_value", "p_holm", "effect_size",
               "paired_tracks")


def render(table: dict, baseline: str | None, metric: str) -> tuple[str, str]:
    """The table as Markdown (for reading) and CSV (for papers: numeric columns, see
    `CSV_COLUMNS`; the baseline's comparison columns empty)."""
    header = ["objective", "source", f"median {metric}", "IQR", "n"]
    if baseline:
        header += [f"median diff vs {baseline} [95 % CI]", "Wilcoxon p", "p (Holm)",
                   "r (rank-biserial)", "tracks"]
    md = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    csv = [",".join(CSV_COLUMNS if baseline else CSV_COLUMNS[:6])]
    for (objective, source), e in table.items():
        cells = [objective, source, f"{e['median']:.3f}", f"{e['q1']:.3f} to {e['q3']:.3f}",
                 str(e["n"])]
        if baseline:
            if objective == baseline:
                cells += ["(baseline)", "", "", "", ""]
            elif "median_difference" not in e:  # another condition: not paired with it
                cells += ["(other data: not tested)", "", "", "", ""]
            else:
                cells += [f"{e['median_difference']:+.3f} [{e['difference_low']:+.3f}, "
                          f"{e['difference_high']:+.3f}]", _shown(e["p_value"], ".3g"),
                          _shown(e.get("p_holm", np.nan), ".3g"),
                          _shown(e["effect_size"], "+.2f"), str(e["paired_tracks"])]
        md.append("| " + " | ".join(cells) + " |")
        numbers = [e.get(column, np.nan) for column in CSV_COLUMNS[2:]] if baseline else \
            [e[column] for column in CSV_COLUMNS[2:6]]
        csv.append(",".join([_csv_text(objective), _csv_text(source)]
                            + ["" if v is None or v != v else f"{v:.6g}" for v in numbers]))
    return "\n".join(md) + "\n", "\n".join(csv) + "\n"


def _shown(value: float, spec: str) -> str:
    """A number for the Markdown table; ``n/a`` where there is none (no test: the paired
    differences are all zero, or fewer than two tracks)."""
    return "n/a" if value != value else format(value, spec)


def _csv_text(text: str) -> str:
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def box_plot(rows: list[dict], path: Path, metric: str = "SDR", table: dict | None = None,
             baseline: str | None = None) -> None:
    """Per source, a box of each objective's per-track ``metric``, labelled with n; with a
    ``table`` of `summarise` against ``baseline``, the baseline's box is marked and each
    other's label gives its Holm-corrected p."""
    plt = pyplot()

    objectives = list(dict.fromkeys(r["objective"] for r in rows))
    sources = list(dict.fromkeys(r["source"] for r in rows))
    figure, axes = plt.subplots(1, len(sources), figsize=(4 + 2 * len(objectives), 4.4),
                                squeeze=False)
    for axis, source in zip(axes[0], sources):
        data = [[r[metric] for r in rows if r["objective"] == o and r["source"] == source
                 and not np.isnan(r.get(metric, np.nan))] for o in objectives]
        boxes = axis.boxplot(data, patch_artist=True)
        labels = []
        for objective, values, box in zip(objectives, data, boxes["boxes"]):
            entry = (table or {}).get((objective, source), {})
            if objective == baseline:
                box.set_facecolor("#f4d35e")
                labels.append(f"{objective}\n(baseline) n={len(values)}")
            elif "p_holm" in entry:
                box.set_facecolor("#dfe7f2")
                p = entry["p_holm"]
                labels.append(f"{objective}\nn={len(values)} "
                              + ("p: no test (equal)" if p != p else f"p={p:.2g}"))
            else:
                box.set_facecolor("#dfe7f2")
                labels.append(f"{objective}\nn={len(values)}")
        axis.set_xticks(range(1, len(objectives) + 1), labels, rotation=30, ha="right",
                        fontsize=8)
        axis.set_title(source + (" (p: Wilcoxon vs baseline, Holm-corrected)"
                                 if baseline else ""), fontsize=9)
        axis.set_ylabel(f"{metric} per track (dB)")
        axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def _comparable(runs: list[Path], labels: dict[Path, str], baseline: str | None
                ) -> set[str] | None:
    """The labels tested against ``baseline``: those of its condition (paired tests over
    tracks of another data folder would pair different tracks of the same name)."""
    if baseline is None:
        return None
    conditions = {labels[run]: _condition(run) for run in runs}
    return {label for label, condition in conditions.items()
            if condition == conditions.get(baseline)}


def _write_comparison(runs: list[Path], rows: list[dict], labels: dict[Path, str],
                      baseline: str | None, out: Path) -> list[str]:
    """Writes the tables and figures of `compare_runs` into ``out``; returns the Markdown
    tables, the SDR table first."""
    outputs, tables = [], {}
    comparable = _comparable(runs, labels, baseline)
    for metric in metric_names(rows):
        table = tables[metric] = summarise(rows, baseline, metric, comparable)
        if not table:  # e.g. SI-SDR of results written before gansep stored it
            if metric in STANDARD:  # the others are there only when scored
                log.warning("no %s values in these results: no compare-%s table", metric,
                            metric.lower())
            continue
        if metric == PERCEPTUAL:  # a ranking: best predicted rating first, per source
            table = dict(sorted(table.items(), key=lambda item: (item[0][1],
                                                                 -item[1]["median"])))
        markdown, csv = render(table, baseline, metric)
        for suffix, text in ((".md", markdown), (".csv", csv)):
            with atomic_target(out / f"compare-{metric.lower()}{suffix}") as tmp:
                Path(tmp).write_text(text)
        outputs.append(markdown)
    lyrics = lyrics_table(runs, labels)
    if lyrics is not None:
        with atomic_target(out / "compare-lyrics.md") as tmp:
            Path(tmp).write_text(lyrics)
        outputs[0] += "\nLyrics head (greedy CTC decoding of the test lines):\n\n" + lyrics
    box_plot(rows, out / "sdr-boxplot.png", "SDR", tables.get("SDR"), baseline)
    ambiguity = ambiguity_table(runs, labels, out, baseline, comparable)
    if ambiguity is not None:
        outputs[0] += "\nAmbiguity (did each objective average or choose?):\n\n" + ambiguity
    return outputs


def compare_runs(paths: list[Path], out: Path, baseline: str | None = None) -> str:
    """Writes the comparison of the runs in ``paths`` (run folders, or a sweep's runs folder
    standing for its finished runs) to ``out``: ``compare-<metric>.md|csv`` and
    ``sdr-boxplot.png``, and on ambiguous data ``compare-ambiguity.md`` and
    ``ambiguity-histograms.png`` (see `ambiguity_table`). Returns the SDR table (Markdown).

    Each run counts once, by folder and by content (`distinct_runs`); runs scored against
    different references for one track are refused (`check_same_references`); ``out`` is
    replaced as a whole (see `gansep.atomic.replaced_folder`): it must be new, empty or an
    earlier comparison."""
    runs = []
    for path in paths:
        children = sorted(p.parent for p in Path(path).glob("*/status.json")
                          if _read_json(p).get("status") == "finished")
        runs += children if children else [Path(path)]
    runs = distinct_runs(runs)
    check_same_references(runs)
    labels = run_labels(runs)
    rows = load_runs(runs, labels)
    if not rows:
        raise ConfigError(f"no per-track results in {', '.join(map(str, runs))}")
    objectives = {r["objective"] for r in rows}
    if baseline and baseline not in objectives:
        raise ConfigError(f"--baseline {baseline!r} is none of the objectives "
                          f"{sorted(objectives)}")
    # The whole output replaced at once: no table of an earlier comparison stays beside it.
    with replaced_folder(out, "gansep compare") as folder:
        outputs = _write_comparison(runs, rows, labels, baseline, folder)
    log.info("Per-track SDR over %d runs (%d objectives):", len(runs), len(objectives))
    return outputs[0]
