"""The metrics gansep scores with, behind one small interface, and the one function that
computes a list of them ([`compute`][]).

A metric is an object with the ``names`` of the values it gives and a call ``metric(track)``
on one [`TrackAudio`][] (the ``(sources, channels, time)`` references and estimates, the
rate, the sources' names, the mixture, the track's name and folder: every metric gets the same
object) returning ``{name: values}``: per track, ``(sources,)``; or, for a ``framewise``
metric, per frame, ``(sources, frames)`` on BSSEval's frame grid (``window`` and ``hop``
seconds). Framewise values are stored in museval's frames and summarised by the median over
frames; per-track values sit beside them in each target. NaN means undefined (a silent frame,
a silent estimate).

An ``optional`` metric returns ``{}`` for a track it does not apply to (the ambiguity metric
on data without ``ambiguity.csv``); any metric may return, under its ``details_key``, JSON
data stored beside the values in the track's result (the ambiguity metric's per-phrase
gains).

Several tracks are scored together through [`Metric.batch`][] (by default one call per
track; BSSEval's torch backend batches tracks of one length bucket on its device).

Adding a metric = one class here or anywhere importable, and its class path in a list: the
``metrics`` of a run config's model (``gansep fit/test``, the validation callback,
``gansep evaluate --config``) or a ``--metrics FILE.yaml`` of ``gansep evaluate``/``score``.
Every table, ``gansep compare`` and the validation log show whatever names the results hold.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch

from gansep.atomic import sha256_file
from gansep.devices import check_device
from gansep.data.audio import DataError
from gansep.errors import ConfigError
from gansep.data.ambiguous import AMBIGUITY_FILE
from gansep.eval.ambiguity import read_parts, score_phrases, summary
from gansep.eval.bsseval import bss_eval, bss_eval_many
from gansep.eval.perceptual import MODEL_FILE, PerceptualScore
from gansep.eval.si_sdr import si_sdr
from gansep.losses.reconstruction import MultiResolutionSTFT

__all__ = ["BSSEval", "SISDR", "GlobalSDR", "Perceptual", "MRSTFT", "L1",
           "Ambiguity"]  # what a checkpoint may name


class TrackAudio(NamedTuple):
    """One track to score, what every metric is given: ``(sources, channels, time)``
    references and estimates at ``rate`` Hz, the sources' names, the track's folder, its
    ``(channels, time)`` mixture and its name (each None where unknown: a folder of estimates
    scored against references without a mixture file has no mixture)."""

    references: np.ndarray
    estimates: np.ndarray
    rate: int
    sources: list[str] | None = None
    folder: Path | None = None
    mixture: np.ndarray | None = None
    name: str | None = None


class Metric:
    """Base of every metric: ``names`` of its values, ``framewise`` (values per BSSEval frame,
    else per track); subclasses implement ``__call__``."""

    names: tuple[str, ...] = ()
    framewise = False
    optional = False  # gives {} for a track it does not apply to
    details_key: str | None = None  # the result key of its JSON details, if it has any
    # A whole-track value for every track: a stored result without it (an older gansep's) is
    # scored again when a run resumes.
    always = False

    def __call__(self, track: TrackAudio) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def batch(self, tracks: list[TrackAudio]) -> list[dict[str, np.ndarray]]:
        """The values of several tracks, in order: by default one call per track; a metric that
        computes faster on many at once overrides it."""
        return [self(track) for track in tracks]

    def provenance(self) -> dict:
        """What changes this metric's numbers, as keys of a result's provenance record (so that
        a rerun with other settings is refused rather than mixed in): by default
        ``{"metric <class path>": its plain settings}``."""
        settings = {key: value for key, value in vars(self).items()
                    if value is None or isinstance(value, (str, int, float, bool))}
        return {f"metric {type(self).__module__}.{type(self).__qualname__}": settings}


#: BSSEval frame lengths and hops, seconds: a frame of a few samples has no meaningful
#: projection (and a hop of 0 samples never advances); an hour bounds the memory of one frame.
FRAME_SECONDS = (0.01, 3600.0)


class BSSEval(Metric):
    """BSSEval v4 (SDR, ISR, SIR, SAR) per frame, as museval computes it (see
    [`gansep.eval.bsseval.bss_eval`][]): ``window`` and ``hop`` in seconds, ``backend``
    ``fast`` (gansep's numpy, equal to museval's to rounding), ``torch`` (the same in torch,
    on ``device``, at most ``batch_tracks`` tracks of one length bucket in one batch) or
    ``museval``. Batching is off by default: on 2 CPU cores a batch of 8 stereo 30 s tracks
    took 8.62 s against 4.44 s one by one (``bench/bsseval_batch.py``); it
    is for a GPU, where it is unmeasured. The device and the batch are not part of the
    provenance: they change no figure beyond float rounding (1e-9 dB in the tests)."""

    names = ("SDR", "ISR", "SIR", "SAR")
    framewise = True

    def __init__(self, window: float = 1.0, hop: float = 1.0,
                 backend: Literal["fast", "torch", "museval"] = "fast",
                 device: str | None = None, batch_tracks: int = 1):
        if device is not None:
            check_device(device, "BSSEval device")
        if batch_tracks < 1:
            raise ConfigError(f"BSSEval batch_tracks: {batch_tracks}; expected at least 1")
        for name, value in (("window", window), ("hop", hop)):
            if not (isinstance(value, (int, float)) and math.isfinite(value)
                    and FRAME_SECONDS[0] <= value <= FRAME_SECONDS[1]):
                raise ConfigError(f"BSSEval {name}: {value!r}; expected seconds from "
                                  f"{FRAME_SECONDS[0]:g} to {FRAME_SECONDS[1]:g}")
        self.window, self.hop, self.backend, self.device = window, hop, backend, device
        self.batch_tracks = batch_tracks

    def __call__(self, track):
        return bss_eval(track.references, track.estimates, track.rate, self.window, self.hop,
                        self.backend, self.device)

    def batch(self, tracks):
        """Tracks of one rate together ([`gansep.eval.bsseval.bss_eval_many`][]: with the
        torch backend, up to ``batch_tracks`` of one length bucket in one batch)."""
        results: list = [None] * len(tracks)
        for rate in {t.rate for t in tracks}:
            indices = [k for k, t in enumerate(tracks) if t.rate == rate]
            scored = bss_eval_many([(tracks[k].references, tracks[k].estimates)
                                    for k in indices], rate, self.window, self.hop,
                                   self.backend, self.device, self.batch_tracks)
            for k, values in zip(indices, scored):
                results[k] = values
        return results

    def provenance(self) -> dict:
        return {"backend": self.backend, "window": self.window, "hop": self.hop}


class SISDR(Metric):
    """Scale-invariant SDR of each whole source (`gansep.eval.si_sdr.si_sdr`), dB."""

    names = ("SI-SDR",)
    always = True

    def __call__(self, track):
        return {"SI-SDR": np.array([si_sdr(r, e) for r, e in zip(track.references,
                                                                  track.estimates)])}

    def provenance(self) -> dict:
        return {}  # no settings; always scored


#: The MDX challenges' epsilon, added to both energies of the global SDR.
GLOBAL_SDR_DELTA = 1e-7


def global_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """The Music Demixing Challenge's SDR of one source of one track (the "global" or
    utterance SDR, uSDR): ``10 log10((sum s^2 + d) / (sum (s - s_hat)^2 + d))`` over every
    sample and channel, ``d = 1e-7``, in float64. One energy ratio per track: no distortion
    filter, no frames (unlike BSSEval's SDR, the median over 1 s frames)."""
    reference = np.asarray(reference, dtype=np.float64)
    error = reference - np.asarray(estimate, dtype=np.float64)
    return float(10 * np.log10((np.sum(reference ** 2) + GLOBAL_SDR_DELTA)
                               / (np.sum(error ** 2) + GLOBAL_SDR_DELTA)))


class GlobalSDR(Metric):
    """The MDX challenges' global SDR (`global_sdr`) of each whole source, dB: the SDR that
    ZFTurbo's and lucidrains' training frameworks log, reported as ``uSDR`` (logged as
    ``val/usdr/<source>``)."""

    names = ("uSDR",)

    def __call__(self, track):
        return {"uSDR": np.array([global_sdr(r, e) for r, e in zip(track.references,
                                                                    track.estimates)])}

    always = True  # a result stored before it existed is scored again on resume

    def provenance(self) -> dict:
        return {}  # no settings


class Perceptual(Metric):
    """The perceptual score fitted by ``gansep listen fit-objective`` (``folder`` holds
    ``perceptual.json``): a predicted MUSHRA rating, median over excerpt-long windows."""

    names = ("Perceptual",)

    def __init__(self, folder: str | Path):
        self.folder = str(folder)
        self.score = PerceptualScore(folder)

    def __call__(self, track):
        return {"Perceptual": np.array([self.score.score_track(r, e, track.rate)[0]
                                        for r, e in zip(track.references, track.estimates)])}

    def provenance(self) -> dict:
        return {"perceptual_sha256": sha256_file(Path(self.folder) / MODEL_FILE)}


class MRSTFT(Metric):
    """The multi-resolution STFT distance a training run sees (auraloss's defaults, as
    [`gansep.losses.MultiResolutionSTFT`][]) of each whole source: lower is better."""

    names = ("MRSTFT",)

    def __call__(self, track):
        loss = MultiResolutionSTFT()
        with torch.no_grad():
            return {"MRSTFT": np.array([
                float(loss(torch.from_numpy(np.asarray(e)).float()[None],
                           torch.from_numpy(np.asarray(r)).float()[None]))
                for r, e in zip(track.references, track.estimates)])}


class L1(Metric):
    """The mean absolute difference of each whole source: lower is better."""

    names = ("L1",)

    def __call__(self, track):
        return {"L1": np.abs(np.asarray(track.estimates, dtype=np.float64)
                             - np.asarray(track.references, dtype=np.float64)).mean(axis=(1, 2))}


class Ambiguity(Metric):
    """Did the separator average or choose? On ambiguous data (``gansep make-data ambiguous``:
    the track folder holds ``ambiguity.csv`` and ``parts/``), per source in ``sources``, over
    the track's backing phrases ([`gansep.eval.ambiguity`][]): ``decided``, the share of
    phrases with ``g < 0.25`` or ``g > 0.75``; ``g``, the mean share of the backing voice the
    estimate kept; ``agreement``, the share of phrases whose choice (``g > 0.5``: kept)
    matches the assignment; ``choice-SDR``, the median SDR against the nearer of the two valid
    targets.
    Other sources NaN; no values for a track without ``ambiguity.csv``. The per-phrase gains go
    to the result's ``gansep_ambiguity`` (what ``gansep compare`` pools)."""

    names = ("decided", "g", "agreement", "choice-SDR")
    optional = True
    details_key = "gansep_ambiguity"

    def __init__(self, sources: list[str] | tuple[str, ...] = ("vocals", "accompaniment")):
        self.sources = tuple(sources)

    def __call__(self, track):
        references, estimates, rate = track.references, track.estimates, track.rate
        folder, sources = track.folder, track.sources
        if folder is None or not (Path(folder) / AMBIGUITY_FILE).is_file() or not sources:
            return {}
        length = references.shape[-1]
        phrases, lead, backing, _ = read_parts(Path(folder), rate, None)
        if lead.shape[-1] < length:
            raise DataError(f"{Path(folder) / 'parts'}: {lead.shape[-1]} samples, shorter than "
                            f"the {length} scored: the parts must be as long as the track")
        lead, backing = lead[..., :length], backing[..., :length]
        values = {name: np.full(len(references), np.nan) for name in self.names}
        details = {}
        for k, source in enumerate(sources):
            if source not in self.sources:
                continue
            scores = score_phrases(Path(folder).name, phrases, np.asarray(estimates[k], float),
                                   np.asarray(references[k], float), lead, backing, rate,
                                   source)
            result = summary(scores, source)
            if result:
                values["decided"][k] = result["decided"]
                values["g"][k] = result["mean_g"]
                values["agreement"][k] = result["agreement"]
                values["choice-SDR"][k] = result["choice_SDR"]
            details[source] = [{key: (None if isinstance(v, float) and not np.isfinite(v)
                                      else v) for key, v in score.row().items()
                                if key != "track"} for score in scores]
        return {**values, self.details_key: details}

    def provenance(self) -> dict:
        # Its default adds no key, so that results written before it existed still resume
        # (it gives values only on ambiguous data, which those results never were).
        if self.sources == ("vocals", "accompaniment"):
            return {}
        return {f"metric {type(self).__module__}.{type(self).__qualname__}":
                {"sources": list(self.sources)}}


def standard_metrics(window: float = 1.0, hop: float = 1.0, backend: str = "fast",
                     perceptual: str | Path | None = None,
                     extra: list[Metric] | tuple = (),
                     device: str | None = None, batch_tracks: int = 1) -> list[Metric]:
    """What every gansep table scores: BSSEval v4, SI-SDR, the global SDR (uSDR) and, on tracks
    of ambiguous data, the ambiguity metric; the perceptual score given its folder, then ``extra`` metrics (an
    ``Ambiguity`` among them replaces the default one); ConfigError where two metrics give one
    name."""
    metrics: list[Metric] = [BSSEval(window, hop, backend, device, batch_tracks), SISDR(),
                             GlobalSDR()]
    if not any(isinstance(metric, Ambiguity) for metric in extra):
        metrics.append(Ambiguity())
    if perceptual is not None:
        metrics.append(Perceptual(perceptual))
    metrics += list(extra)
    seen: dict[str, str] = {}
    for metric in metrics:
        if not isinstance(metric, Metric):
            raise ConfigError(f"metrics: {metric!r} is not a gansep.eval.metrics.Metric")
        for name in metric.names:
            if name in seen:
                raise ConfigError(f"metrics: {type(metric).__name__} and {seen[name]} both "
                                  f"give {name!r}; each name once")
            seen[name] = type(metric).__name__
    return metrics


def provenance(metrics: list[Metric]) -> dict:
    """The provenance keys of all ``metrics`` (see [`Metric.provenance`][])."""
    record: dict = {}
    for metric in metrics:
        record.update(metric.provenance())
    return record


def frame_grid(metrics: list[Metric]) -> tuple[float, float]:
    """``(window, hop)`` of the framewise metrics (one grid for all; ConfigError otherwise)."""
    grids = {(m.window, m.hop) for m in metrics if m.framewise}
    if len(grids) > 1:
        raise ConfigError(f"framewise metrics on different frame grids {sorted(grids)}: "
                          "museval's format has one")
    return grids.pop() if grids else (1.0, 1.0)


def compute(metrics: list[Metric], references: np.ndarray, estimates: np.ndarray,
            rate: int, sources: list[str] | None = None, folder: Path | None = None,
            details: dict | None = None, mixture: np.ndarray | None = None,
            name: str | None = None) -> dict[str, np.ndarray]:
    """``{name: values}`` of every metric (see the module's docstring) on one track: a metric
    that does not apply to it gives none; the details of those that have some go into
    ``details`` (``{details_key: data}``) where a dict is given."""
    values, extra = compute_many(metrics, [TrackAudio(references, estimates, rate, sources,
                                                      folder, mixture, name)])[0]
    if details is not None:
        details.update(extra)
    return values


def compute_many(metrics: list[Metric], tracks: list[TrackAudio]
                 ) -> list[tuple[dict[str, np.ndarray], dict]]:
    """[`compute`][] of several tracks, each metric on all of them at once
    ([`Metric.batch`][]): ``(values, details)`` per track, in order."""
    out: list[tuple[dict, dict]] = [({}, {}) for _ in tracks]
    for metric in metrics:
        results = metric.batch(list(tracks))
        if len(results) != len(tracks):
            raise ValueError(f"{type(metric).__name__} gave {len(results)} results for "
                             f"{len(tracks)} tracks")
        for track, result, (values, details) in zip(tracks, results, out):
            result = dict(result)
            if metric.details_key is not None and metric.details_key in result:
                details[metric.details_key] = result.pop(metric.details_key)
            if not result and metric.optional:
                continue  # does not apply to this track
            if set(result) != set(metric.names):
                raise ValueError(f"{type(metric).__name__} gave {sorted(result)}, but its "
                                 f"names are {list(metric.names)}")
            for name, value in result.items():
                value = np.asarray(value, dtype=float)
                expected = 2 if metric.framewise else 1
                if value.ndim != expected or value.shape[0] != len(track.references):
                    raise ValueError(f"{type(metric).__name__}: {name} has shape {value.shape}, "
                                     f"expected ({len(track.references)}"
                                     f"{', frames' * (expected - 1)})")
                values[name] = value
    return out


def read_metrics(path: Path) -> list[Metric]:
    """The metrics listed in a YAML file (``metrics: [{class_path, init_args}, ...]``, as in a
    run config); ConfigError naming the file for anything else. A metrics file is a
    configuration, like a run config: it names the code to run."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--metrics", type=list[Metric], required=True)
    try:
        text = Path(path).read_text()
        config = parser.parse_string(text)
        return list(parser.instantiate_classes(config).metrics)
    except OSError as error:
        raise ConfigError(f"--metrics {path}: {error.strerror or error}") from None
    except Exception as error:  # jsonargparse's errors carry no common class
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        why = " ".join(lines[:2]) if lines else type(error).__name__  # key, then the reason
        raise ConfigError(f"--metrics {path}: expected 'metrics:' and a list of class_path/"
                          f"init_args entries of Metric classes ({why})") from None
