"""Did a separator average or choose? (``gansep ambiguity DATA ESTIMATES --out DIR``)

On data with several valid answers ([`gansep.data.ambiguous`][]: each backing phrase belongs
to ``vocals`` or to ``accompaniment`` by a seeded draw), a monotonic loss rewards the average
of the answers. For every backing phrase, the least-squares gains of a source's estimate on the
two vocal parts over the phrase's samples (all channels jointly),

    estimate ≈ a·lead + g·backing + residual,

give ``g``, the share of the backing voice the separator put in that source: 0 left out, 1
kept, 0.5 halved (the average of the two answers). A phrase is *decided* when ``g < 0.25`` or
``g > 0.75``, *averaged* otherwise. ``SDR`` is the phrase's signal-to-error ratio against the
assigned target; ``choice SDR`` the same against the nearer of the two valid targets (the
source with or without the backing phrase), which does not punish a separator for choosing the
other valid answer.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gansep.atomic import atomic_target
from gansep.data.ambiguous import AMBIGUITY_FILE, PARTS, Phrase, read_phrases
from gansep.data.audio import DataError, read_checked
from gansep.data.folder import MIXTURE
from gansep.plots import pyplot, save_figure

log = logging.getLogger(__name__)

DECIDED = (0.25, 0.75)  # g below the first or above the second: the phrase was decided
COLUMNS = ("track", "start", "end", "assigned", "voice", "gain", "lead_gain", "residual_db",
           "SDR", "choice_SDR")


@dataclass
class PhraseScore:
    """One backing phrase as the estimate of one source treats it."""

    track: str
    phrase: Phrase
    gain: float  # g: the share of the backing voice in the estimate
    lead_gain: float  # a: the share of the lead voice
    residual_db: float  # energy of what neither part explains, relative to the estimate's
    sdr: float  # against the assigned target, dB
    choice_sdr: float  # against the nearer valid target, dB

    @classmethod
    def from_row(cls, track: str, row: dict) -> "PhraseScore":
        """The inverse of `row` (as stored in a result's ``gansep_ambiguity``)."""
        def number(key):
            value = row.get(key)
            return float("nan") if value is None else float(value)
        return cls(track, Phrase(float(row["start"]), float(row["end"]), str(row["assigned"]),
                                 row.get("voice") or None),
                   number("gain"), number("lead_gain"), number("residual_db"), number("SDR"),
                   number("choice_SDR"))

    def row(self) -> dict:
        return {"track": self.track, "start": self.phrase.start, "end": self.phrase.end,
                "assigned": self.phrase.assigned, "voice": self.phrase.voice, "gain": self.gain,
                "lead_gain": self.lead_gain, "residual_db": self.residual_db, "SDR": self.sdr,
                "choice_SDR": self.choice_sdr}


def _ratio_db(signal: np.ndarray, error: np.ndarray) -> float:
    energy, noise = float(np.sum(signal ** 2)), float(np.sum(error ** 2))
    if energy == 0:
        return float("nan")
    return float(10 * np.log10((energy + 1e-12) / (noise + 1e-12)))


def phrase_gains(estimate: np.ndarray, lead: np.ndarray, backing: np.ndarray
                 ) -> tuple[float, float, float]:
    """``(g, a, residual dB)`` of the least-squares fit ``estimate ≈ a·lead + g·backing`` over
    all channels and samples given (each ``(channels, time)``)."""
    basis = np.stack([lead.ravel(), backing.ravel()], axis=1).astype(np.float64)
    target = estimate.ravel().astype(np.float64)
    (a, g), *_ = np.linalg.lstsq(basis, target, rcond=None)
    residual = target - basis @ np.array([a, g])
    energy = float(target @ target)
    residual_db = (float(10 * np.log10((residual @ residual + 1e-12) / energy))
                   if energy > 0 else float("nan"))
    return float(g), float(a), residual_db


def score_phrases(name: str, phrases: list[Phrase], estimate: np.ndarray,
                  reference: np.ndarray, lead: np.ndarray, backing: np.ndarray, rate: int,
                  source: str) -> list[PhraseScore]:
    """Every phrase of one track: ``estimate`` and ``reference`` are the source's estimate
    and its target as assigned, ``lead`` and ``backing`` the vocal parts (all ``(channels,
    time)`` at ``rate``)."""
    scores = []
    for phrase in phrases:
        start = int(round(phrase.start * rate))
        stop = min(int(round(phrase.end * rate)), estimate.shape[-1])
        if stop <= start:
            continue
        span = slice(start, stop)
        g, a, residual = phrase_gains(estimate[:, span], lead[:, span], backing[:, span])
        target = reference[:, span]
        kept = phrase.assigned == source  # whether the assigned target holds the phrase
        other = target - backing[:, span] if kept else target + backing[:, span]
        sdr = _ratio_db(target, estimate[:, span] - target)
        choice = max(sdr, _ratio_db(other, estimate[:, span] - other))
        scores.append(PhraseScore(name, phrase, g, a, residual, sdr, choice))
    return scores


def _read(path: Path, rate: int | None, length: int | None, what: str) -> tuple[np.ndarray, int]:
    if not path.is_file():
        raise DataError(f"{path}: missing ({what})")
    audio, file_rate = read_checked(path)
    if rate is not None and file_rate != rate:
        raise DataError(f"{path}: sample rate {file_rate} Hz, but the mixture has {rate} Hz")
    if length is not None and audio.shape[-1] != length:
        raise DataError(f"{path}: {audio.shape[-1]} samples, but the mixture has {length}: "
                        f"{what} must be as long as the track")
    return audio.astype(np.float64), file_rate


def read_parts(track_dir: Path, rate: int | None = None, length: int | None = None
               ) -> tuple[list[Phrase], np.ndarray, np.ndarray, int]:
    """``(phrases, lead, backing, rate)`` of one track folder of ambiguous data, the parts at
    the mixture's rate and length (or ``rate`` and ``length`` where given); DataError naming
    the file for a missing ``parts/`` or ``ambiguity.csv``, a part of another length or rate."""
    parts = track_dir / PARTS
    if not parts.is_dir():
        raise DataError(f"{parts}: missing (ambiguous data has parts/lead.wav and "
                        "parts/backing.wav; write it with gansep make-data ambiguous)")
    phrases = read_phrases(track_dir / AMBIGUITY_FILE)
    if rate is None or length is None:
        mixture = next((p for p in sorted(track_dir.glob(f"{MIXTURE}.*"))), None)
        if mixture is None:
            raise DataError(f"{track_dir}: no mixture file")
        mix, rate = _read(mixture, None, None, "the mixture")
        length = mix.shape[-1]
    lead = _read(parts / "lead.wav", rate, length, "a vocal part")[0]
    backing = _read(parts / "backing.wav", rate, length, "a vocal part")[0]
    return phrases, lead, backing, rate


def score_track(track_dir: Path, estimate_path: Path, source: str) -> list[PhraseScore]:
    """The phrases of one track folder of ambiguous data scored on one estimate file;
    DataError naming the file for a missing ``parts/`` or ``ambiguity.csv``, a part, target or
    estimate of another length or rate."""
    phrases, lead, backing, rate = read_parts(track_dir)
    length = lead.shape[-1]
    reference = _read(track_dir / f"{source}.wav", rate, length, f"the {source} target")[0]
    estimate = _read(estimate_path, rate, length, "the estimate")[0]
    return score_phrases(track_dir.name, phrases, estimate, reference, lead, backing, rate,
                         source)


def summary(scores: list[PhraseScore], source: str) -> dict[str, float]:
    """The share of phrases decided and averaged, the mean and median ``g``, the agreement of
    the choices with the assignment (``g > 0.5`` where the phrase was assigned to
    ``source``), the median SDR and choice SDR over phrases."""
    if not scores:
        return {}
    gains = np.array([s.gain for s in scores])
    decided = (gains < DECIDED[0]) | (gains > DECIDED[1])
    agrees = np.array([(s.gain > 0.5) == (s.phrase.assigned == source) for s in scores])
    return {"phrases": len(scores), "decided": float(decided.mean()),
            "averaged": float(1 - decided.mean()), "mean_g": float(gains.mean()),
            "median_g": float(np.median(gains)), "agreement": float(agrees.mean()),
            "SDR": float(np.nanmedian([s.sdr for s in scores])),
            "choice_SDR": float(np.nanmedian([s.choice_sdr for s in scores]))}


def by_voice(scores: list[PhraseScore], source: str) -> dict[str, dict[str, float]]:
    """[`summary`][] of the phrases of each backing voice (generated data records which voice
    sings each phrase; other data gives ``{}``): with ``--cue none`` a separator that splits
    the phrases by voice decides them without agreeing with the assignment."""
    voices = sorted({s.phrase.voice for s in scores if s.phrase.voice is not None})
    return {voice: summary([s for s in scores if s.phrase.voice == voice], source)
            for voice in voices}


def voice_table(voices: dict[str, dict[str, float]]) -> str:
    """Markdown rows of [`by_voice`][] (empty without voices)."""
    if not voices:
        return ""
    return ("\nBy backing voice:\n\n| voice | phrases | decided | mean g | agreement |\n"
            "|---|---:|---:|---:|---:|\n"
            + "".join(f"| {voice} | {v['phrases']} | {100 * v['decided']:.1f} % | "
                      f"{v['mean_g']:.3f} | {100 * v['agreement']:.1f} % |\n"
                      for voice, v in voices.items()))


def markdown(values: dict[str, float], source: str, tracks: int) -> str:
    return (f"Backing phrases in the {source} estimates: {values['phrases']} phrases of "
            f"{tracks} track(s) (g: the share of the backing voice kept; decided: g < "
            f"{DECIDED[0]} or g > {DECIDED[1]})\n\n"
            "| decided | averaged | mean g | median g | agreement | SDR (dB) | choice SDR (dB) |\n"
            "|---:|---:|---:|---:|---:|---:|---:|\n"
            f"| {100 * values['decided']:.1f} % | {100 * values['averaged']:.1f} % | "
            f"{values['mean_g']:.3f} | {values['median_g']:.3f} | "
            f"{100 * values['agreement']:.1f} % | {values['SDR']:.2f} | "
            f"{values['choice_SDR']:.2f} |\n\n"
            "Agreement: the share of phrases whose choice (g > 0.5: kept) matches where the "
            "data put them; only a cue (make-data --cue timbre) makes it learnable. SDR and "
            "choice SDR: median over phrases of the signal-to-error ratio against the assigned "
            "target and against the nearer of the two valid ones.\n")


def histogram(scores: list[PhraseScore], path: Path, title: str) -> None:
    plt = pyplot()

    figure, axis = plt.subplots(figsize=(5, 3.2))
    axis.hist(np.clip([s.gain for s in scores], -0.25, 1.25), bins=30, range=(-0.25, 1.25))
    for edge in DECIDED:
        axis.axvline(edge, color="grey", linestyle=":")
    axis.set_xlabel("g: share of the backing voice kept")
    axis.set_ylabel("phrases")
    axis.set_title(title)
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


ORACLES = ("choose", "average")


def write_oracle_estimates(data: Path, out: Path, kind: str, split: str = "test",
                           seed: int = 0) -> Path:
    """Writes ``out/<track>/vocals.wav`` and ``accompaniment.wav`` for every track of
    ``data/split``: the estimates of an oracle that knows the parts and either *chooses*
    (each backing phrase wholly in vocals or wholly in accompaniment, by a seeded coin) or
    *averages* (half of every backing phrase in each). Scored by `evaluate_ambiguity`, they
    must come out 100 % decided and 100 % averaged: the metric's control."""
    if kind not in ORACLES:
        raise ValueError(f"kind must be one of {ORACLES}, got {kind!r}")
    from gansep.data.audio import write_audio

    folder = Path(data) / split
    rng = np.random.default_rng(seed)
    for track in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        phrases, lead, backing, rate = read_parts(track)
        share = np.zeros(lead.shape[-1])
        for phrase in phrases:
            start, stop = int(round(phrase.start * rate)), int(round(phrase.end * rate))
            share[start:stop] = 0.5 if kind == "average" else float(rng.random() < 0.5)
        mixture = _read(next(iter(sorted(track.glob(f"{MIXTURE}.*")))), rate, lead.shape[-1],
                        "the mixture")[0]
        vocals = lead + share * backing
        for name, audio in (("vocals", vocals), ("accompaniment", mixture - vocals)):
            write_audio(Path(out) / track.name / f"{name}.wav", audio.astype(np.float32), rate,
                        subtype="FLOAT")
    return Path(out)


def evaluate_ambiguity(data: Path, estimates: Path, out: Path, source: str = "vocals",
                       split: str = "test") -> dict[str, float]:
    """Scores every track of ``data/split`` (ambiguous data) on ``estimates/<track>/<source>.*``
    and writes ``out/ambiguity.csv``, ``ambiguity.md`` and ``ambiguity.png`` atomically;
    returns the summary. DataError naming the file for anything that cannot be scored."""
    folder = Path(data) / split
    if not folder.is_dir():
        raise DataError(f"{folder}: missing (expected ambiguous data: {data}/{split}/<track>/)")
    tracks = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not tracks:
        raise DataError(f"{folder}: no track folders")
    scores = []
    for track in tracks:
        candidates = sorted((Path(estimates) / track.name).glob(f"{source}.*"))
        if not candidates:
            raise DataError(f"{Path(estimates) / track.name}: no estimate of {source}")
        scores += score_track(track, candidates[0], source)
    values = summary(scores, source)
    if not values:
        raise DataError(f"{folder}: no backing phrase to score")
    with atomic_target(out / "ambiguity.csv") as tmp, open(tmp, "w", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        for score in scores:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v)
                             for k, v in score.row().items()})
    with atomic_target(out / "ambiguity.md") as tmp:
        Path(tmp).write_text(markdown(values, source, len(tracks))
                             + voice_table(by_voice(scores, source)))
    histogram(scores, out / "ambiguity.png", f"{source}: {len(scores)} backing phrases")
    return values
