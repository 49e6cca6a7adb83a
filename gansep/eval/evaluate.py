"""Scoring whole test sets, resumably: a checkpoint on a dataset split
([`evaluate_checkpoint`][]) or any separator's output folders ([`score_folders`][]).

Both write one museval-format JSON per track under ``OUT/test/`` (museval's
``EvalStore.add_eval_dir`` reads them) and an aggregate table (``results.md``,
``results.csv``). Every file is written atomically. Each JSON also records what produced it
(``gansep_provenance``: the checkpoint's or the files' SHA-256, the options that change the
numbers); a rerun skips tracks whose record matches, refuses to mix in results whose record
differs (naming the track, the key and both values) unless told to ``overwrite`` them, and
redoes results that cannot be read. A track that fails is reported, listed in the table and
skipped; the others go on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from gansep.atomic import atomic_target, sha256_file, write_json_atomic
from gansep.checkpoints import generator_from_checkpoint
from gansep.data.audio import READABLE, DataError, read_checked, write_audio
from gansep.data.tracks import assemble_sources
from gansep.errors import ConfigError
from gansep.eval.metrics import (BSSEval, Metric, TrackAudio, compute_many, frame_grid,
                                 standard_metrics)
from gansep.eval.metrics import provenance as provenance_of
from gansep.eval.results import aggregate_table, museval_json, read_track_scores
from gansep.eval.tasks import frame_tasks
from gansep.separate import audio_files_in, separate_file_audio

log = logging.getLogger(__name__)

PROVENANCE = "gansep_provenance"


class TrackError(ValueError):
    """A track that cannot be scored; the message says why."""


@dataclass
class Loaded:
    """A track ready to score: its audio, its sources' labels in messages (None: their
    names) and what its result holds beside the scores (an auxiliary task's, see
    `gansep.eval.tasks`)."""

    audio: TrackAudio
    labels: list[str] | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class TrackJob:
    """One track to score: ``provenance()`` says cheaply what would produce its result (to
    compare with a stored one), ``load()`` reads (or separates) the audio to score."""

    name: str
    provenance: Callable[[], dict]
    load: Callable[[], Loaded]


def score_track(references: np.ndarray, estimates: np.ndarray, rate: int, sources: list[str],
                metrics: list[Metric] | None = None, labels: list[str] | None = None,
                folder: Path | None = None) -> dict:
    """museval-format scores of one track by every metric (default:
    [`standard_metrics`][]), or TrackError for unscorable input.
    ``labels`` name the sources in messages (file paths); ``folder`` is the track's folder,
    for the metrics that read more of it (the ambiguity metric)."""
    result = score_tracks([TrackAudio(references, estimates, rate, sources, folder)], metrics,
                          [labels])[0]
    if isinstance(result, TrackError):
        raise result
    return result


def score_tracks(tracks: list[TrackAudio], metrics: list[Metric] | None = None,
                 labels: list[list[str] | None] | None = None) -> list[dict | TrackError]:
    """[`score_track`][] of several tracks, every metric on all of them at once (BSSEval's
    torch backend batches tracks of one length bucket): per track, in order, its result or the
    TrackError that says why it cannot be scored."""
    metrics = standard_metrics() if metrics is None else metrics
    window, hop = frame_grid(metrics)
    labels = labels or [None] * len(tracks)
    out: list = [None] * len(tracks)
    for k, (track, names) in enumerate(zip(tracks, labels)):
        try:
            _check(track, window, names or track.sources)
        except TrackError as error:
            out[k] = error
    scorable = [k for k in range(len(tracks)) if out[k] is None]
    try:
        computed = compute_many(metrics, [tracks[k] for k in scorable]) if scorable else []
    except (TrackError, DataError) as error:
        computed = []  # a track's data is unusable: score each alone to say which
        for k in list(scorable):
            try:
                if len(scorable) == 1:
                    raise error
                computed.append(compute_many(metrics, [tracks[k]])[0])
            except (TrackError, DataError) as problem:
                out[k] = problem if isinstance(problem, TrackError) else TrackError(str(problem))
                scorable.remove(k)
    for k, (values, details) in zip(scorable, computed):
        names = labels[k] or tracks[k].sources
        infinite = [(label, int(np.isinf(values["SDR"][j]).sum()))
                    for j, label in enumerate(names)] if "SDR" in values else []
        infinite = [(label, frames) for label, frames in infinite if frames]
        if infinite:
            label, frames = infinite[0]
            out[k] = TrackError(f"{label}: SDR is infinite in {frames} frame(s): the estimate "
                                "equals its reference exactly (were the references scored "
                                "against themselves?)")
            continue
        framewise = {m: values[m] for metric in metrics if metric.framewise
                     for m in metric.names if m in values}
        whole = {m: values[m] for metric in metrics if not metric.framewise
                 for m in metric.names if m in values}
        out[k] = {**museval_json(framewise, tracks[k].sources, window, hop, whole=whole),
                  **details}
    return out


def _check(track: TrackAudio, window: float, labels: list[str]) -> None:
    """TrackError for a track that cannot be scored; a warning for a silent estimate."""
    references, estimates, rate = track.references, track.estimates, track.rate
    if references.shape[-1] < int(window * rate):
        raise TrackError(f"{references.shape[-1] / rate:.2f} s of audio is shorter than one "
                         f"{window} s evaluation frame")
    if not np.any(references):
        raise TrackError("all reference sources are silent: nothing to score")
    for kind, audio in (("reference", references), ("estimate", estimates)):
        for label, source in zip(labels, audio):
            if not np.isfinite(source).all():
                raise TrackError(f"{label}: {kind} holds NaN or infinite samples")
    for label, reference, estimate in zip(labels, references, estimates):
        # Refused before any metric runs; an estimate equal to its reference in some frames
        # only is refused after BSSEval, by its infinite frames (`score_tracks`).
        if np.any(reference) and np.array_equal(reference, estimate):
            raise TrackError(f"{label}: SDR is infinite: the estimate equals its reference "
                             "exactly (were the references scored against themselves?)")
    for label, source in zip(labels, estimates):
        if not np.any(source):
            log.warning("%s: the estimate is silent (all zeros): SDR and SI-SDR are undefined "
                        "for this track (null in its result, as museval leaves silent frames), "
                        "not numbers", label)


def _stored(target: Path) -> dict | None:
    """The stored result, or None where it is missing or unreadable (a hand-cut file)."""
    try:
        data = json.loads(target.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("%s: unreadable result (%s); scoring the track again", target, error)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
        log.warning("%s: not a museval result; scoring the track again", target)
        return None
    return data


def _differences(stored: dict | None, wanted: dict) -> list[str]:
    if stored is None:
        return ["no record of what produced it (written by another tool or an older gansep)"]
    return [f"{key} was {stored.get(key)!r}, is {wanted.get(key)!r} now"
            for key in sorted(set(stored) | set(wanted)) if stored.get(key) != wanted.get(key)]


def _always(metrics: list[Metric]) -> list[str]:
    return [name for metric in metrics if metric.always for name in metric.names]


def _lacks_a_metric(stored: dict, metrics: list[Metric]) -> bool:
    """Whether a stored result misses a whole-track value that a metric gives every track (its
    ``always``): a result of an older gansep, resumed by scoring the track again rather than
    by a table whose tracks hold different metrics."""
    names = _always(metrics)
    return any(isinstance(target, dict) and name not in target
               for target in stored.get("targets", []) for name in names)


def score_all(jobs: Iterable[TrackJob], out: Path, metrics: list[Metric],
              overwrite: bool = False, failures: dict[str, str] | None = None,
              batch_tracks: int = 1) -> int:
    """Scores every job's track by ``metrics`` into ``out/test/<name>.json`` (see the module's
    docstring), ``batch_tracks`` loaded before they are scored together ([`score_tracks`][];
    memory: that many tracks' audio), then writes the aggregate table, which lists
    ``failures`` (tracks known unusable, ``{name: problem}``) and the tracks that fail here.
    Returns 1 if any track failed, else 0; ConfigError, before anything is scored, for stored
    results of other provenance."""
    jobs = list(jobs)
    failures = dict(failures or {})
    todo, mismatched = [], []
    hashed: dict[str, dict] = {}  # provenance computed here is not hashed again below
    for job in jobs:
        target = out / "test" / f"{job.name}.json"
        stored = _stored(target) if target.exists() else None
        if stored is None:
            todo.append(job)
            continue
        try:
            wanted = job.provenance()
        except (TrackError, DataError, OSError) as error:
            failures[job.name] = str(error)
            continue
        hashed[job.name] = wanted
        differences = _differences(stored.get(PROVENANCE), wanted)
        if differences:
            mismatched.append(f"{target}: {'; '.join(differences)}")
            todo.append(job)
        elif _lacks_a_metric(stored, metrics):  # scored before a metric of every track existed
            log.info("%s: holds no %s; scoring the track again", target,
                     "/".join(_always(metrics)))
            todo.append(job)
    if mismatched and not overwrite:
        raise ConfigError(f"{len(mismatched)} stored result(s) in {out} came from another "
                          "checkpoint, data or options; nothing scored (use another --out, or "
                          "--overwrite to score them again):\n  " + "\n  ".join(mismatched))
    for job, loaded, result in run_jobs(tqdm(todo, desc="tracks", unit="track"), metrics,
                                        batch_tracks):
        try:
            if isinstance(result, TrackError):
                raise result
            provenance = hashed[job.name] if job.name in hashed else job.provenance()
        except (TrackError, DataError, OSError) as error:
            failures[job.name] = str(error)
            log.error("%s: %s", job.name, error)
            continue
        write_result(out, job.name, {**result, **loaded.extra}, provenance)
    return finish(out, failures)


def run_jobs(jobs: Iterable[TrackJob], metrics: list[Metric], batch_tracks: int = 1
             ) -> Iterator[tuple[TrackJob, Loaded | None, dict | TrackError]]:
    """The one "separate, then score" loop of gansep (``gansep evaluate`` and ``score``, ``gansep
    test``, the validation callback): loads each job's track (``job.load()``: reads it, or
    separates it with [`separation_job`][]), scores ``batch_tracks`` of them at a time by
    ``metrics`` ([`score_tracks`][]) and yields, in order, ``(job, loaded, result)``: the
    museval-format result, or the TrackError that says why the track cannot be scored
    (``loaded`` None when it could not even be loaded). What to do with a result (write it,
    log it) is the caller's."""
    pending: list[tuple[TrackJob, Loaded]] = []

    def scored():
        results = score_tracks([loaded.audio for _, loaded in pending], metrics,
                               [loaded.labels for _, loaded in pending])
        done = [(job, loaded, result) for (job, loaded), result in zip(pending, results)]
        pending.clear()
        return done

    for job in jobs:
        try:
            pending.append((job, job.load()))
        except (TrackError, DataError) as error:
            yield job, None, error if isinstance(error, TrackError) else TrackError(str(error))
        if len(pending) >= batch_tracks:
            yield from scored()
    if pending:
        yield from scored()


def write_result(out: Path, name: str, result: dict, provenance: dict) -> None:
    """Stores one track's result, with the record of what produced it, as
    ``out/test/<name>.json`` (atomically)."""
    write_json_atomic(out / "test" / f"{name}.json", {**result, PROVENANCE: provenance})


def read_track(track, sources: list[str], duration: float | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(mixture, references)`` of a collection's track, or of its first ``duration``
    seconds: ``(channels, time)`` and ``(sources, channels, time)``."""
    stop = track.num_frames
    if duration:
        stop = min(stop, int(duration * track.sample_rate))
    return track.read_mixture(0, stop), track.read_sources(sources, 0, stop)


def separate_track(generator, mixture: np.ndarray, references: np.ndarray, rate: int,
                   batch_size: int = 4, name: str | None = None,
                   folder: Path | None = None) -> TrackAudio:
    """The track to score: ``generator``'s estimates of ``mixture`` (in eval mode, without
    gradients; its train/eval mode restored after), with everything a metric is given."""
    was_training = generator.training
    generator.eval()
    try:
        with torch.inference_mode():
            estimates = separate_file_audio(generator, mixture, rate, batch_size)
    finally:
        generator.train(was_training)
    return TrackAudio(references, estimates, rate, list(generator.sources), folder, mixture,
                      name)


def separation_job(generator, track, duration: float | None = None, batch_size: int = 4,
                   provenance: Callable[[], dict] = dict) -> TrackJob:
    """The job of [`run_jobs`][] that separates a collection's track with ``generator``
    (``separate_track``) and scores its first ``duration`` seconds (None: all of it)."""
    def load() -> Loaded:
        mixture, references = read_track(track, generator.sources, duration)
        return Loaded(separate_track(generator, mixture, references, track.sample_rate,
                                     batch_size, track.name, track.folder()))
    return TrackJob(track.name, provenance, load)


def batch_tracks_of(metrics: list[Metric]) -> int:
    """How many tracks a runner holds to score together: BSSEval's ``batch_tracks`` with the
    torch backend (which batches them), else 1 (nothing gained by holding more)."""
    return max([m.batch_tracks for m in metrics
                if isinstance(m, BSSEval) and m.backend == "torch"], default=1)


def finish(out: Path, failures: dict[str, str]) -> int:
    """Writes the aggregate table (and the list of tracks not scored) atomically."""
    rows = read_track_scores(out)
    markdown, csv = aggregate_table(rows) if rows else ("No track scored.\n", "")
    for task in frame_tasks():
        entries = [entry for path in sorted((out / "test").glob("*.json"))
                   if (entry := (_stored(path) or {}).get(task.key))]
        markdown += task.summary(entries)
    if failures:
        markdown += (f"\nNot scored ({len(failures)} track(s)):\n\n"
                     + "".join(f"- {name}: {problem}\n" for name, problem in failures.items()))
    for name, text in (("results.md", markdown), ("results.csv", csv)):
        if text:
            with atomic_target(out / name) as tmp:
                Path(tmp).write_text(text)
    log.debug("%s", markdown)  # the commands print results.md, their report, on stdout
    log.info("wrote %s", out / "results.md")
    if failures and not rows:
        # Not one track could be scored: the input as a whole is bad (references given as
        # estimates, a window longer than every track, a misspelt source), exit 2.
        by_problem: dict[str, list[str]] = {}
        for name, problem in failures.items():
            by_problem.setdefault(problem, []).append(name)
        raise ConfigError(f"no track scored ({len(failures)} of {len(failures)}): " + "; ".join(
            f"{problem} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
            for problem, names in by_problem.items()))
    if failures:
        log.error("%d track(s) not scored:\n  %s", len(failures),
                  "\n  ".join(f"{name}: {problem}" for name, problem in failures.items()))
        return 1
    return 0


# ---------------------------------------------------------------------- a checkpoint
def evaluate_checkpoint(checkpoint: Path, collection, out: Path, split: str = "test",
                        ema: bool = True, duration: float | None = None,
                        metrics: list[Metric] | None = None, device: str = "cpu",
                        batch_size: int = 4, write_estimates: bool = False,
                        overwrite: bool = False, base: Path | None = None) -> int:
    """Separates every track of ``split`` with the checkpoint's generator and scores it by
    ``metrics`` (default: [`standard_metrics`][]; see
    [`score_all`][]; ``write_estimates`` also writes ``out/estimates/<track>/<source>.wav``).
    ``base``: see [`gansep.checkpoints.generator_from_checkpoint`][]. Returns 1 if a track
    failed, else 0."""
    metrics = standard_metrics() if metrics is None else metrics
    generator, info = generator_from_checkpoint(checkpoint, ema=ema, base=base)
    tasks = [task for task in frame_tasks() if task.applies(generator)]
    tracks = collection.tracks(split)
    generator.to(device)
    log.info("%s: %s weights at step %s; %d %s tracks", checkpoint, info["weights"],
             info["global_step"], len(tracks), split)
    common = {"command": "evaluate", "checkpoint_sha256": sha256_file(checkpoint),
              "weights": info["weights"], "split": split, "duration": duration,
              **provenance_of(metrics)}

    def provenance(track) -> dict:
        return {**common, "data_sha256": {p.name: sha256_file(p) for p in track.source_files()}}

    def load(track) -> Loaded:
        mixture, references = read_track(track, generator.sources, duration)
        stop = mixture.shape[-1]
        extra = {}
        wanted = [task for task in tasks if task.wants(track)]
        if wanted:  # the auxiliary head's frames from the same passes
            with torch.inference_mode():
                estimates, frames, times = separate_file_audio(
                    generator, mixture, track.sample_rate, batch_size, frames=True)
            for task in wanted:
                extra[task.key] = task.score(generator, track, frames, times,
                                             stop / track.sample_rate)
            audio = TrackAudio(references, estimates, track.sample_rate,
                               list(generator.sources), track.folder(), mixture, track.name)
        else:
            audio = separate_track(generator, mixture, references, track.sample_rate,
                                   batch_size, track.name, track.folder())
        if write_estimates:
            folder = out / "estimates" / track.name
            for source, estimate in zip(generator.sources, audio.estimates):
                write_audio(folder / f"{source}.wav", estimate, track.sample_rate)
            # A rescored track's estimates are this model's only: an earlier model's other
            # sources are not left beside them.
            for stale in audio_files_in(folder):
                if stale.stem not in generator.sources or stale.suffix != ".wav":
                    stale.unlink()
        return Loaded(audio, extra=extra)

    jobs = [TrackJob(t.name, lambda t=t: provenance(t), lambda t=t: load(t)) for t in tracks]
    return score_all(jobs, out, metrics, overwrite, failures=collection.unusable(split),
                     batch_tracks=batch_tracks_of(metrics))


# ------------------------------------------------------------------ output folders


def audio_files(folder: Path) -> dict[str, Path]:
    """``{name without extension: path}`` of the audio files in ``folder``; TrackError where
    two share a name (``vocals.wav`` and ``vocals.flac``)."""
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in READABLE:
            if path.stem in files:
                raise TrackError(f"{files[path.stem]} and {path}: two files for one source")
            files[path.stem] = path
    return files


def score_folders(references: Path, estimates: Path, out: Path,
                  metrics: list[Metric] | None = None, overwrite: bool = False,
                  sources: list[str] | None = None) -> int:
    """Scores ``estimates/<track>/<source>.<ext>`` against ``references/<track>/<stem>.<ext>``
    (a source that is no reference stem, e.g. accompaniment, against the sum of the other
    stems), every track of either folder, by ``metrics`` (default:
    [`standard_metrics`][]): a reference track without estimates, or
    estimates without references, is a failure in the table and the exit status."""
    metrics = standard_metrics() if metrics is None else metrics
    for folder in (references, estimates):
        if not folder.is_dir():
            raise ConfigError(f"{folder}: not a folder")
    names = sorted({p.name for folder in (references, estimates) for p in folder.iterdir()
                    if p.is_dir() and not p.name.startswith(".")})
    if not names:
        raise ConfigError(f"{estimates} and {references} hold no track folders")
    options = {"command": "score", **provenance_of(metrics),
               **({"sources": sources} if sources else {})}

    def provenance(name: str) -> dict:
        estimate_files, reference_files = _track_files(estimates / name, references / name,
                                                       sources)
        return {**options,
                "estimates_sha256": {p.name: sha256_file(p) for p in estimate_files.values()},
                "references_sha256": {p.name: sha256_file(p) for p in reference_files.values()}}

    jobs = [TrackJob(n, lambda n=n: provenance(n),
                     lambda n=n: _load_folder(estimates / n, references / n, sources))
            for n in names]
    return score_all(jobs, out, metrics, overwrite, batch_tracks=batch_tracks_of(metrics))


def _track_files(estimate_dir: Path, reference_dir: Path, sources: list[str] | None = None,
                 say: bool = False) -> tuple[dict, dict]:
    """``({source: estimate file}, {stem: reference file})`` of one track. The sources are
    ``sources`` (``--sources``) or, when unambiguous, the estimates' file names: each a
    reference stem, except at most one "rest" source (the sum of the stems not estimated,
    e.g. accompaniment) beside at least one stem; TrackError otherwise (a misspelt
    ``vocal.wav`` is never scored against the sum of all stems)."""
    if not estimate_dir.is_dir():
        raise TrackError(f"no estimates: {estimate_dir} is missing")
    if not reference_dir.is_dir():
        raise TrackError(f"no references: {reference_dir} is missing")
    estimate_files = {k: v for k, v in audio_files(estimate_dir).items() if k != "mixture"}
    if not estimate_files:
        raise TrackError(f"{estimate_dir}: no audio files")
    reference_files = {k: v for k, v in audio_files(reference_dir).items() if k != "mixture"}
    if not reference_files:
        raise TrackError(f"{reference_dir}: no reference stems")
    if sources:
        missing = [name for name in sources if name not in estimate_files]
        if missing:
            raise TrackError(f"{estimate_dir}: no estimate of {', '.join(missing)} (--sources; "
                             f"files there: {', '.join(sorted(estimate_files))})")
        estimate_files = {name: estimate_files[name] for name in sources}
    rest = [name for name in estimate_files if name not in reference_files]
    stems = ", ".join(sorted(reference_files))
    if len(rest) > 1 or (rest and len(rest) == len(estimate_files)):
        raise TrackError(f"{estimate_dir}: {', '.join(rest)} {'is' if len(rest) == 1 else 'are'} "
                         f"not reference stem(s) of {reference_dir} ({stems}); one source may be "
                         "the sum of the stems not estimated only beside at least one stem: "
                         "rename the files or name the sources with --sources")
    if say and rest and len(estimate_files) > 2:
        # An extra stem beside the estimates changes what the rest source is: say so.
        summed = sorted(set(reference_files) - set(estimate_files))
        log.warning("%s: %s is scored against the sum of %s only, since %s are estimated too "
                    "(--sources names the sources to score)", estimate_dir, rest[0],
                    " + ".join(summed) or "no stem",
                    ", ".join(sorted(set(estimate_files) - {rest[0]})))
    return estimate_files, reference_files


def read_stems(files: dict[str, Path]) -> tuple[dict[str, np.ndarray], int]:
    """``({name: (channels, time)}, rate)`` of a track's stem files; DataError naming the
    file whose sample rate differs from the others'."""
    stems, rate = {}, None
    for name, path in files.items():
        stems[name], stem_rate = read_checked(path)
        if rate is not None and stem_rate != rate:
            raise DataError(f"{path}: sample rate {stem_rate} Hz differs from {rate} Hz")
        rate = stem_rate
    return stems, rate


def _load_folder(estimate_dir: Path, reference_dir: Path,
                 sources: list[str] | None = None) -> Loaded:
    estimate_files, reference_files = _track_files(estimate_dir, reference_dir, sources,
                                                   say=True)
    stems, rate = read_stems(reference_files)
    channels = {a.shape[0] for a in stems.values()}
    if len(channels) > 1:
        raise DataError(f"{reference_dir}: reference stems have unequal channel counts "
                        f"{sorted(channels)}")
    lengths = {k: v.shape[-1] for k, v in stems.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"{reference_dir}: reference stems differ in length ("
                        + ", ".join(f"{k} {n}" for k, n in lengths.items()) + " samples)")
    length = next(iter(lengths.values()))
    sources = list(estimate_files)
    references = assemble_sources(stems, sources, reference_dir.name)
    estimates = np.zeros_like(references)
    for k, source in enumerate(sources):
        audio, estimate_rate = read_checked(estimate_files[source])
        if estimate_rate != rate:
            raise DataError(f"{estimate_files[source]}: sample rate {estimate_rate} Hz, but "
                            f"the references have {rate} Hz")
        if audio.shape[0] != references.shape[1]:
            raise DataError(f"{estimate_files[source]}: {audio.shape[0]} channels, references "
                            f"have {references.shape[1]}")
        if audio.shape[-1] != length:  # museval would pad or cut it: a score of another signal
            raise DataError(f"{estimate_files[source]}: {audio.shape[-1]} samples "
                            f"({audio.shape[-1] / rate:.3f} s), but the references have {length} "
                            f"({length / rate:.3f} s): an estimate must be as long as its "
                            "reference")
        estimates[k] = audio
    mixture = None
    mixture_file = audio_files(reference_dir).get("mixture")
    if mixture_file is not None:
        mixture, mixture_rate = read_checked(mixture_file)
        if mixture_rate != rate or mixture.shape != references.shape[1:]:
            # No standard metric reads the mixture: the track is still scored, without it.
            log.warning("%s: %d channels, %d samples at %d Hz, but the references have %d, %d "
                        "at %d Hz: not given to the metrics", mixture_file, mixture.shape[0],
                        mixture.shape[-1], mixture_rate, references.shape[1], length, rate)
            mixture = None
    return Loaded(TrackAudio(references, estimates, rate, sources, reference_dir, mixture,
                             reference_dir.name),
                  labels=[str(estimate_files[s]) for s in sources])
