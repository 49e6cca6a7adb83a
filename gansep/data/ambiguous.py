"""Generated data whose right answer is not unique: toy tracks with a lead vocal and a backing
vocal, each backing phrase assigned by a seeded draw to ``vocals`` or to ``accompaniment``
(``gansep make-data ambiguous``).

Datasets disagree on where backing vocals belong; a monotonic loss (L1, L2) trained on such
data is rewarded for the average of the two answers, half the backing voice in each stem.
With ``cue="timbre"`` the backing voice's timbre says where a phrase goes (bright: vocals,
dark: accompaniment), so a separator *can* learn the rule: the control condition. With
``cue="none"`` each phrase's timbre is drawn independently of its assignment.

Layout (an ordinary stems folder to every other command)::

    <root>/<split>/<track>/{mixture,vocals,accompaniment}.wav   the targets as assigned
    <root>/<split>/<track>/parts/{lead,backing}.wav             the two vocal parts alone
    <root>/<split>/<track>/ambiguity.csv                       start,end,assigned per phrase
    <root>/ambiguity.json                                      the options that wrote it

With ``stems="lead-backing"`` the tracks hold ``lead``, ``backing`` and ``accompaniment`` (the
instruments) as stems instead: no ambiguity, each part its own target.

Every signal is rounded to a multiple of 2**-20 (-120 dB) before it is summed, so that the sums
are exact in float32: lead + backing + instruments = mixture = vocals + accompaniment, bit for
bit.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from gansep.atomic import atomic_target, write_json_atomic
from gansep.data.audio import DataError, write_audio
from gansep.data.toy import SPLIT_SIZES, make_toy_track, sing, stereo_voice, sung_line

log = logging.getLogger(__name__)

AMBIGUITY_FILE = "ambiguity.csv"
MANIFEST = "ambiguity.json"  # at the data's root: the options that wrote it (the cue, ...)
PARTS = "parts"
ASSIGNED = ("vocals", "accompaniment")
#: (harmonic tilt, formant scale, pitch ratio) of the backing voice: bright (the lead's
#: spectrum, an octave above its line: a high descant; at 8 kHz 1 to 5 harmonics, median 2, over
#: 40 lines, since the toy synthesis gives every note of a line as many harmonics as its highest
#: note has under 0.45 x rate) and dark (its harmonics falling as 1/k**4, formants lowered, an
#: octave below its line: a low "ooh" under the lead). The contrast is the learnable-rule
#: control's cue (--cue timbre); with --cue none the same two voices are drawn independently of
#: the assignment. Weaker cues did not make the rule learnable in the control's budget (an L1
#: Wave-U-Net at 8 kHz, configs/ambiguity-control.yaml, data seed 1, backing voice near the
#: centre): (2.2, 0.8) at the line's pitch agreed with the assignment on 61.6 % of 99 test
#: phrases after 2000 steps; (4.0, 0.6) at its pitch on 68.3 % of 205 after 2000 steps and
#: 70.7 % after 6000 (backing -12 to -3 dB); an octave down, backing -6 to 0 dB, 81.5 % after
#: 2000; two octaves down 96.1 % after 2000. But two octaves down the dark voice sits in the
#: bass's register, and with --cue none L2 put it in the accompaniment (g 0.18) and the bright
#: one in the vocals (g 0.77) instead of halving either: it could not isolate the backing voice
#: from the bass and the lead. An octave down and off-centre (make-data --backing-pan 0.3 0.4:
#: the backing voice 0.3 to 0.4 from the centre, the lead within 0.1 of it) it can, but with the
#: bright voice at the line's own pitch the control reached only 86.0 % on an untuned seed (seed
#: 3; bright 80.9 %, dark 92.2 %). The bright voice an octave up (this table): 96.0 % at seed 3
#: (bright 99.1 %, dark 92.2 %), where a brighter spectrum at the line's pitch (tilt 0.5,
#: formants x1.3) reached 92.0 % (bright 90.9 %); docs/evaluation.md has the runs.
TIMBRES = {"bright": (1.0, 1.0, 2.0), "dark": (4.0, 0.6, 0.5)}
SPLITS_ORDER = ("train", "valid", "test")
#: The lowest sample rate at which every line of the bright voice keeps its fundamental: its
#: highest note (MIDI 89 plus 0.6 semitones of vibrato, an octave up: 2.9 kHz) under 0.45 x rate.
MIN_RATE = 8000
_GRID = 2.0 ** -20  # the sums of a few multiples of it below 4 are exact in float32


@dataclass
class Phrase:
    """One backing phrase: its span in seconds, the stem it was assigned to and, in generated
    data, the backing voice that sings it (a key of `TIMBRES`; None where unknown)."""

    start: float
    end: float
    assigned: str
    voice: str | None = None


@dataclass
class AmbiguousTrack:
    """The parts of one generated track, each ``(2, time)`` float32, and its phrases."""

    lead: np.ndarray
    backing: np.ndarray
    instruments: np.ndarray
    phrases: list[Phrase]
    backing_in_vocals: np.ndarray  # the backing phrases assigned to vocals (the rest: zeros)

    @property
    def vocals(self) -> np.ndarray:
        return self.lead + self.backing_in_vocals

    @property
    def accompaniment(self) -> np.ndarray:
        return self.instruments + (self.backing - self.backing_in_vocals)

    @property
    def mixture(self) -> np.ndarray:
        return self.vocals + self.accompaniment


def _on_grid(audio: np.ndarray) -> np.ndarray:
    return (np.round(np.asarray(audio, dtype=np.float64) / _GRID) * _GRID).astype(np.float32)


def make_ambiguous_track(seed: int | tuple, sample_rate: int = 22050, duration: float = 10.0,
                         vocals_prob: float = 0.5, assign: Literal["phrase", "track"] = "phrase",
                         backing_db: tuple[float, float] = (-12.0, -3.0),
                         cue: Literal["none", "timbre"] = "none",
                         backing_pan: tuple[float, float] | None = None) -> AmbiguousTrack:
    """One track (everything follows from ``seed``): the toy generator's instruments and lead
    vocal, and a backing harmony line of its own (a third to a fifth above, its own phrases)
    at ``backing_db`` dB (drawn per track) relative to the lead; each backing phrase (or, with
    ``assign="track"``, the whole line) is assigned to vocals with probability
    ``vocals_prob``. ``backing_pan``: the backing voice's distance from the centre of the
    stereo image (0: centre, 0.5: one side only), drawn per track in that range, its side by a
    coin (None: near the centre like the lead, 0 to 0.1)."""
    if not 0.0 <= vocals_prob <= 1.0:
        raise ValueError(f"vocals_prob must be in [0, 1], got {vocals_prob}")
    if sample_rate < MIN_RATE:
        raise ValueError(f"sample_rate must be at least {MIN_RATE} Hz, got {sample_rate}: the "
                         "bright voice's highest notes (2.9 kHz) need 0.45 x rate above them")
    if assign not in ("phrase", "track") or cue not in ("none", "timbre"):
        raise ValueError(f"assign must be phrase or track, cue none or timbre; got {assign!r}, "
                         f"{cue!r}")
    low, high = sorted(backing_db)
    stems = make_toy_track(seed, sample_rate, duration)
    rng = np.random.default_rng((*np.atleast_1d(seed).tolist(), 17))
    n = stems["vocals"].shape[-1]
    key = int(np.random.default_rng(seed).integers(0, 12))  # the lead's key (its first draw)
    f0, gain, formants, spans = sung_line(rng, sample_rate, n, key, register=int(
        rng.choice([3, 4, 7])))
    track_choice = rng.random() < vocals_prob
    choices = [track_choice if assign == "track" else rng.random() < vocals_prob
               for _ in spans]
    timbres = [("bright" if to_vocals else "dark") if cue == "timbre"
               else ("bright" if rng.random() < 0.5 else "dark") for to_vocals in choices]
    voices = {name: sing(f0 * ratio, gain, formants, sample_rate, tilt, scale)
              for name, (tilt, scale, ratio) in TIMBRES.items()}
    mono = np.zeros(n)
    for (start, stop), timbre in zip(spans, timbres):
        mono[start:stop] = voices[timbre][start:stop]
    pan = None
    if backing_pan is not None:
        near, far = sorted(backing_pan)
        if not 0.0 <= near <= far <= 0.5:
            raise ValueError(f"backing_pan must lie in [0, 0.5], got {backing_pan}")
        pan = 0.5 + (1 if rng.random() < 0.5 else -1) * rng.uniform(near, far)
    backing = stereo_voice(rng, mono, gain, pan)
    lead = stems["vocals"].astype(np.float64)
    level = 10 ** (rng.uniform(low, high) / 20)
    active = gain > 0
    backing *= level * np.sqrt(np.mean(lead ** 2) / max(np.mean(backing[:, active] ** 2), 1e-12))
    instruments = sum(stems[name].astype(np.float64) for name in ("drums", "bass", "other"))
    scale = 0.9 / max(np.abs(lead + backing + instruments).max(), 1e-9)
    lead, backing, instruments = (_on_grid(x * scale) for x in (lead, backing, instruments))
    mask = np.zeros(n, dtype=bool)
    phrases = []
    for (start, stop), to_vocals, timbre in zip(spans, choices, timbres):
        mask[start:stop] = to_vocals
        phrases.append(Phrase(start / sample_rate, stop / sample_rate,
                              "vocals" if to_vocals else "accompaniment", timbre))
    return AmbiguousTrack(lead, backing, instruments, phrases,
                          np.where(mask, backing, np.float32(0)).astype(np.float32))


def write_phrases(path: Path, phrases: list[Phrase]) -> None:
    """Writes ``ambiguity.csv`` (``start,end,assigned``, and ``voice`` where the phrases
    know theirs) atomically."""
    voices = any(phrase.voice is not None for phrase in phrases)
    with atomic_target(path) as tmp, open(tmp, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["start", "end", "assigned"] + ["voice"] * voices)
        for phrase in phrases:
            writer.writerow([f"{phrase.start:.6f}", f"{phrase.end:.6f}", phrase.assigned]
                            + [phrase.voice or ""] * voices)


def read_phrases(path: Path) -> list[Phrase]:
    """The phrases of an ``ambiguity.csv``; DataError naming the file (and row) when it is
    missing, unreadable, empty or malformed."""
    try:
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    if not rows:
        raise DataError(f"{path}: no phrase (expected a header start,end,assigned and a row "
                        "per backing phrase)")
    phrases = []
    for number, row in enumerate(rows, start=2):
        try:
            start, end, assigned = float(row["start"]), float(row["end"]), row["assigned"]
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: row {number}: expected start,end,assigned (seconds, "
                            f"seconds, vocals or accompaniment), got {row}") from None
        if not (0 <= start < end) or assigned not in ASSIGNED:
            raise DataError(f"{path}: row {number}: expected 0 <= start < end and assigned "
                            f"vocals or accompaniment, got {start}, {end}, {assigned!r}")
        voice = row.get("voice") or None
        if voice is not None and voice not in TIMBRES:
            raise DataError(f"{path}: row {number}: voice {voice!r}; expected one of "
                            f"{', '.join(TIMBRES)} or empty")
        phrases.append(Phrase(start, end, assigned, voice))
    return phrases


def write_track(folder: Path, track: AmbiguousTrack, rate: int) -> None:
    """One track folder of the ambiguous layout: the targets as assigned, the mixture, the two
    vocal parts and ``ambiguity.csv``."""
    write_phrases(folder / AMBIGUITY_FILE, track.phrases)
    for name, audio in {"vocals": track.vocals, "accompaniment": track.accompaniment,
                        f"{PARTS}/lead": track.lead, f"{PARTS}/backing": track.backing,
                        "mixture": track.mixture}.items():
        write_audio(folder / f"{name}.wav", audio, rate, subtype="FLOAT")


def read_manifest(root: str | Path) -> dict | None:
    """The options that wrote the ambiguous data at ``root`` (``ambiguity.json``), or None
    where there is none (data written by an older gansep, or by hand); DataError naming the
    file when it is unreadable."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: unreadable ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("cue") not in ("none", "timbre"):
        raise DataError(f"{path}: expected a JSON object with cue none or timbre (written by "
                        "gansep make-data ambiguous)")
    return manifest


def make_ambiguous_dataset(out: str | Path, seed: int = 0, sample_rate: int = 22050,
                           duration: float = 10.0, tracks: dict[str, int] | None = None,
                           vocals_prob: float = 0.5, assign: str = "phrase",
                           backing_db: tuple[float, float] = (-12.0, -3.0), cue: str = "none",
                           stems: Literal["vocals-accompaniment", "lead-backing"]
                           = "vocals-accompaniment",
                           backing_pan: tuple[float, float] | None = None) -> Path:
    """Writes ``<out>/<split>/ambiguous-<split>-<i>/`` for every split (see the module's
    docstring); track ``i`` of a split depends only on ``(seed, split, i)`` and the options."""
    out = Path(out)
    sizes = dict(SPLIT_SIZES if tracks is None else tracks)
    write_json_atomic(out / MANIFEST, {
        "kind": "ambiguous", "seed": seed, "sample_rate": sample_rate, "duration": duration,
        "tracks": sizes, "vocals_prob": vocals_prob, "assign": assign,
        "backing_db": list(backing_db), "cue": cue, "stems": stems,
        "backing_pan": None if backing_pan is None else list(backing_pan),
        "timbres": {name: list(values) for name, values in TIMBRES.items()}})
    for split_index, (split, count) in enumerate(sizes.items()):
        for i in range(count):
            folder = out / split / f"ambiguous-{split}-{i:03d}"
            track = make_ambiguous_track((seed, split_index, i), sample_rate, duration,
                                         vocals_prob, assign, backing_db, cue, backing_pan)
            if stems == "lead-backing":
                for name, audio in {"lead": track.lead, "backing": track.backing,
                                    "accompaniment": track.instruments,
                                    "mixture": track.mixture}.items():
                    write_audio(folder / f"{name}.wav", audio, sample_rate, subtype="FLOAT")
            else:
                write_track(folder, track, sample_rate)
        log.info("wrote %d %s tracks to %s", count, split, out / split)
    return out


#: The energy gate that finds a real backing stem's phrases (``make-data ambiguous --from``):
#: RMS over 50 ms frames (hop 25 ms); a frame is active above -35 dB relative to the backing
#: stem's loudest frame; active runs closer than 0.3 s are one phrase; phrases shorter than
#: 0.5 s are left out (their backing stays in the accompaniment, as all backing outside
#: phrases does).
GATE = {"frame": 0.05, "hop": 0.025, "threshold_db": -35.0, "bridge": 0.3, "shortest": 0.5}


def backing_phrases(backing: np.ndarray, rate: int, gate: dict | None = None
                    ) -> list[tuple[int, int]]:
    """``(start, stop)`` samples of the active spans of a backing stem ``(channels, time)``
    by the energy `GATE` (or ``gate``)."""
    gate = {**GATE, **(gate or {})}
    frame, hop = int(gate["frame"] * rate), int(gate["hop"] * rate)
    mono = np.mean(np.asarray(backing, dtype=np.float64) ** 2, axis=0)
    if mono.size < frame or not mono.any():
        return []
    starts = np.arange(0, mono.size - frame + 1, hop)
    cumulative = np.concatenate([[0.0], np.cumsum(mono)])
    energy = (cumulative[starts + frame] - cumulative[starts]) / frame
    active = 10 * np.log10(np.maximum(energy, 1e-20) / energy.max()) > gate["threshold_db"]
    spans: list[list[int]] = []
    for index in np.flatnonzero(active):
        # A frame is active once any of it overlaps the voice: the voice starts in the first
        # active frame's last hop and ends in the last one's first hop (edges within a hop).
        # (The first frame's voice may start at the track's start, the last's end at its end.)
        start = 0 if index == 0 else int(starts[index] + frame - hop)
        stop = mono.size if index == len(starts) - 1 else int(starts[index] + hop)
        if spans and start - spans[-1][1] <= gate["bridge"] * rate:
            spans[-1][1] = max(spans[-1][1], stop)
        else:
            spans.append([start, stop])
    return [(a, b) for a, b in spans if b - a >= gate["shortest"] * rate]


def ambiguous_from_parts(lead: np.ndarray, backing: np.ndarray, rest: np.ndarray, rate: int,
                         rng: np.random.Generator, vocals_prob: float = 0.5,
                         assign: str = "phrase", gate: dict | None = None) -> AmbiguousTrack:
    """An ambiguous track from real parts (each ``(channels, time)``): the backing stem's
    phrases (`backing_phrases`) assigned to vocals with probability ``vocals_prob`` (per
    phrase, or once for the track), every signal on the float32-exact grid."""
    if assign not in ("phrase", "track"):
        raise ValueError(f"assign must be phrase or track, got {assign!r}")
    scale = 0.9 / max(np.abs(lead + backing + rest).max(), 1e-9)
    scale = min(scale, 1.0)  # quieter, never louder than the recording
    lead, backing, rest = (_on_grid(np.asarray(x, np.float64) * scale)
                           for x in (lead, backing, rest))
    spans = backing_phrases(backing, rate, gate)
    track_choice = rng.random() < vocals_prob
    mask = np.zeros(lead.shape[-1], dtype=bool)
    phrases = []
    for start, stop in spans:
        to_vocals = track_choice if assign == "track" else bool(rng.random() < vocals_prob)
        mask[start:stop] = to_vocals
        phrases.append(Phrase(start / rate, stop / rate,
                              "vocals" if to_vocals else "accompaniment"))
    return AmbiguousTrack(lead, backing, rest, phrases,
                          np.where(mask, backing, np.float32(0)).astype(np.float32))


def ambiguous_from_collection(collection, out: str | Path, seed: int = 0,
                              vocals_prob: float = 0.5, assign: str = "phrase",
                              gate: dict | None = None, splits=("train", "valid", "test"),
                              source: str = "") -> Path:
    """Writes the ambiguous layout (see the module's docstring) from every track of
    ``collection`` that has ``lead`` and ``backing`` stems (the rest of its stems summed as the
    instruments): MoisesDB with the ``lead-backing`` stem map, or a stems folder with
    ``lead.wav`` and ``backing.wav``. Track ``i``'s draws depend on ``(seed, split, name)``. A
    track without a lead or backing stem, or without a backing phrase, is left out with a
    line; DataError when no track of any split could be written."""
    out = Path(out)
    written, skipped = 0, []
    for split in splits:
        try:
            tracks = collection.tracks(split)
        except DataError as error:
            log.warning("%s: %s", split, error)
            continue
        for track in tracks:
            if not {"lead", "backing"} <= set(track.stems):
                skipped.append(f"{track.name}: no lead and backing stems (stems: "
                               f"{sorted(track.stems)})")
                continue
            stems = track.read_stems(0, track.num_frames)
            lead, backing = stems.pop("lead"), stems.pop("backing")
            rest = (np.sum(list(stems.values()), axis=0) if stems
                    else np.zeros_like(lead))
            digest = int(hashlib.sha256(track.name.encode()).hexdigest()[:16], 16)
            rng = np.random.default_rng((seed, SPLITS_ORDER.index(split), digest))
            made = ambiguous_from_parts(lead, backing, rest, track.sample_rate, rng,
                                        vocals_prob, assign, gate)
            if not made.phrases:
                skipped.append(f"{track.name}: no backing phrase above the gate "
                               f"({GATE['threshold_db']} dB)")
                continue
            write_track(out / split / track.name, made, track.sample_rate)
            written += 1
    for line in skipped:
        log.warning("left out: %s", line)
    if not written:
        raise DataError(f"{source or collection}: no track with lead and backing stems and a "
                        "backing phrase: nothing written")
    write_json_atomic(out / MANIFEST, {
        "kind": "ambiguous", "from": source, "seed": seed, "vocals_prob": vocals_prob,
        "assign": assign, "cue": "none", "gate": {**GATE, **(gate or {})},
        "tracks": written})
    log.info("wrote %d tracks to %s (%d left out)", written, out, len(skipped))
    return out
