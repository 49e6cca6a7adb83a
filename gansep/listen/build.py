"""``gansep listen build``: a MUSHRA test (ITU-R BS.1534-3) from separations.

A test folder holds:

- ``test.json``: the trials (track, excerpt span, the trial's loudness, each stimulus's
  condition, gain, file and SHA-256), the conditions and how the test was built;
- ``audio/<trial>/<key>.wav``: the stimuli as raters hear them (float WAV, loudness-aligned);
  a stimulus's file name is an opaque key, so the page reveals no condition;
- ``excerpts/<trial>/{reference,interference}.wav``: the unscaled reference source and the
  sum of the other stems over the same span, for ``gansep listen metrics`` (never served);
- the page: ``index.html``, ``mushra.js``, ``mushra.css`` (`gansep.listen.page`).

Every trial has the open reference (its own button), the hidden reference (condition
``reference``), the two anchors (`gansep.listen.stimuli.ANCHORS`) and one stimulus per
condition: at most 12 stimuli, as BS.1534-3 asks. One more excerpt, the training trial, lets
raters learn the page; it is never stored.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gansep.version import __version__
from gansep.atomic import atomic_target, sha256_file
from gansep.data.audio import DataError, read_checked, write_audio
from gansep.errors import ConfigError
from gansep.eval.evaluate import audio_files, read_stems
from gansep.listen.page import page_folder
from gansep.listen.stimuli import ANCHORS, active_blocks, active_starts, loudness_gains, lowpass

log = logging.getLogger(__name__)

FORMAT = "gansep-listening-test"
REFERENCE = "reference"  # the hidden reference's condition name
MAX_STIMULI = 12  # BS.1534-3: no more than 12 stimuli (conditions, hidden reference, anchors)
MAX_SECONDS = 12.0  # BS.1534-3: excerpts of about 10 s, at most 12 s
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
PAGE_FILES = ("index.html", "mushra.js", "mushra.css")
BLOCK = 0.1  # seconds: the grid of activity detection and excerpt starts


@dataclass
class Excerpt:
    track: str
    start: int  # samples
    stop: int


def check_conditions(conditions: dict[str, Path]) -> None:
    """ConfigError for unusable condition names or folders."""
    if not conditions:
        raise ConfigError("no --condition given: a test needs at least one NAME=DIR")
    reserved = {REFERENCE, *ANCHORS}
    for name, folder in conditions.items():
        if not NAME.match(name):
            raise ConfigError(f"condition name {name!r}: use letters, digits and _.+- "
                              "(at most 64 characters)")
        if name in reserved:
            raise ConfigError(f"condition name {name!r} is reserved for the hidden reference "
                              f"and the anchors ({', '.join(sorted(reserved))})")
        if not Path(folder).is_dir():
            raise ConfigError(f"condition {name}: {folder} is not a folder")
    stimuli = len(conditions) + 1 + len(ANCHORS)
    if stimuli > MAX_STIMULI:
        raise ConfigError(f"{len(conditions)} conditions + the hidden reference + "
                          f"{len(ANCHORS)} anchors = {stimuli} stimuli per trial; BS.1534-3 "
                          f"allows at most {MAX_STIMULI}: drop {stimuli - MAX_STIMULI} "
                          "condition(s)")


def _source_file(folder: Path, source: str) -> Path | None:
    return audio_files(folder).get(source) if folder.is_dir() else None


def load_track(references: Path, track: str, source: str,
               conditions: dict[str, Path]) -> tuple[int, np.ndarray, np.ndarray, dict]:
    """``(rate, reference, interference, {condition: estimate})`` of one track, all
    ``(channels, time)``; DataError naming the condition, track and file on any mismatch."""
    stems, rate = read_stems({name: path for name, path in audio_files(references / track)
                              .items() if name != "mixture"})
    if not stems:
        raise DataError(f"{references / track}: no reference stems")
    shapes = {a.shape for a in stems.values()}
    if len(shapes) > 1:
        raise DataError(f"{references / track}: stems differ in channels or length "
                        f"{sorted(shapes)}")
    total = sum(stems.values())
    if source in stems:
        reference = stems[source]
    elif source == "accompaniment" and "vocals" in stems and len(stems) > 1:
        reference = total - stems["vocals"]  # MUSDB's convention: every stem but vocals
    else:
        raise DataError(f"{references / track}: no {source} stem (stems: {sorted(stems)})")
    interference = total - reference
    estimates = {}
    for condition, folder in conditions.items():
        path = _source_file(folder / track, source)
        audio, estimate_rate = read_checked(path)
        what = f"condition {condition}, track {track} ({path})"
        if estimate_rate != rate:
            raise DataError(f"{what}: sample rate {estimate_rate} Hz, the reference has "
                            f"{rate} Hz")
        if audio.shape[0] != reference.shape[0]:
            raise DataError(f"{what}: {audio.shape[0]} channel(s), the reference has "
                            f"{reference.shape[0]}")
        if audio.shape[-1] != reference.shape[-1]:
            raise DataError(f"{what}: {audio.shape[-1]} samples, the reference has "
                            f"{reference.shape[-1]}")
        estimates[condition] = audio
    return rate, reference, interference, estimates


def _tracks(references: Path, source: str, conditions: dict[str, Path]) -> list[str]:
    if not references.is_dir():
        raise ConfigError(f"--references {references}: not a folder")
    names = sorted(p.name for p in references.iterdir()
                   if p.is_dir() and not p.name.startswith("."))
    usable = []
    for track in names:
        missing = [c for c, folder in conditions.items() if _source_file(folder / track, source)
                   is None]
        if missing:
            log.warning("skipping track %s: no %s estimate from condition(s) %s", track, source,
                        ", ".join(missing))
        else:
            usable.append(track)
    if not usable:
        raise ConfigError(f"no track of {references} has a {source} estimate in every "
                          f"condition folder ({', '.join(map(str, conditions.values()))})")
    return usable


def choose_excerpts(activity: dict[str, np.ndarray], rate: int, count: int, seconds: float,
                    rng: np.random.Generator, min_activity: float = 0.8) -> list[Excerpt]:
    """``count`` non-overlapping excerpts of ``seconds`` where the source is active (at least
    ``min_activity`` of their 0.1 s blocks), spread over tracks in turn (a seeded order), each
    start drawn at random among the active ones; ConfigError when fewer exist."""
    span = int(round(seconds / BLOCK))
    block = int(round(BLOCK * rate))
    taken: dict[str, list[int]] = {track: [] for track in activity}
    starts = {track: active_starts(a, span, min_activity) for track, a in activity.items()}
    order = [list(activity)[i] for i in rng.permutation(len(activity))]
    chosen: list[Excerpt] = []
    while len(chosen) < count:
        progress = False
        for track in order:
            free = [s for s in starts[track] if all(abs(s - t) >= span for t in taken[track])]
            if not free:
                continue
            start = int(free[rng.integers(len(free))])
            taken[track].append(start)
            chosen.append(Excerpt(track, start * block, start * block + int(round(seconds * rate))))
            progress = True
            if len(chosen) == count:
                break
        if not progress:
            raise ConfigError(
                f"only {len(chosen)} non-overlapping {seconds:g} s excerpts with the source "
                f"active ({min_activity:.0%} of the time) exist in {len(activity)} track(s); "
                f"{count} are needed (the trials plus one training trial): ask for fewer "
                "--trials or shorter --seconds, or add tracks")
    return chosen


def build_test(references: Path, conditions: dict[str, Path], source: str, trials: int,
               seconds: float, out: Path, seed: int = 0, loudness: float = -23.0,
               min_activity: float = 0.8, name: str | None = None) -> dict:
    """Writes a MUSHRA test folder (see the module docstring) and returns its description.
    Refuses (ConfigError) a non-empty ``out``, too many stimuli, or too few active excerpts;
    DataError names the condition and track of mismatched audio. Nothing is left in ``out``
    when it fails."""
    references, out = Path(references), Path(out)
    conditions = {k: Path(v) for k, v in conditions.items()}
    check_conditions(conditions)
    if not 1.0 <= seconds <= MAX_SECONDS:
        raise ConfigError(f"--seconds {seconds:g}: BS.1534-3 excerpts last about 10 s and at "
                          f"most {MAX_SECONDS:g} s; gansep accepts 1 to {MAX_SECONDS:g}")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out {out}: not empty; a test folder is written once (choose a "
                          "new folder)")
    tracks = _tracks(references, source, conditions)
    rng = np.random.default_rng(seed)

    loaded, activity, rate = {}, {}, None
    for track in tracks:
        track_rate, reference, interference, estimates = load_track(
            references, track, source, conditions)
        if rate is not None and track_rate != rate:
            raise DataError(f"{references / track}: sample rate {track_rate} Hz, other tracks "
                            f"have {rate} Hz; a test plays at one rate")
        rate = track_rate
        loaded[track] = (reference, interference, estimates)
        activity[track] = active_blocks(reference, rate, BLOCK)
    for anchor, cutoff in ANCHORS.items():
        if cutoff * 1.05 >= rate / 2:
            raise ConfigError(f"the {anchor} anchor needs a sample rate above "
                              f"{2.1 * cutoff:g} Hz; the references have {rate} Hz")
    excerpts = choose_excerpts(activity, rate, trials + 1, seconds, rng, min_activity)

    created = not out.exists()
    try:
        description = _write(out, excerpts, loaded, conditions, references, source, rate,
                             seconds, seed, loudness, min_activity, rng, name or out.name)
    except BaseException:
        # Nothing half-built stays behind (the folder was empty or new).
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return description


def _write(out: Path, excerpts: list[Excerpt], loaded: dict, conditions: dict[str, Path],
           references: Path, source: str, rate: int, seconds: float, seed: int,
           loudness: float, min_activity: float, rng: np.random.Generator, name: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    keys_taken: set[str] = set()

    def new_key() -> str:
        while True:
            key = f"s{int(rng.integers(1 << 32)):08x}"
            if key not in keys_taken:
                keys_taken.add(key)
                return key

    trials = []
    for index, excerpt in enumerate(excerpts):
        trial_id = "training" if index == 0 else f"t{index:02d}"
        reference, interference, estimates = loaded[excerpt.track]
        cut = slice(excerpt.start, excerpt.stop)
        margin = 4096  # the anchor filters see real context, not zeros, at the excerpt's edges
        lo, hi = max(0, excerpt.start - margin), min(reference.shape[-1], excerpt.stop + margin)
        stimuli = {REFERENCE: reference[..., cut]}
        for anchor, cutoff in ANCHORS.items():
            filtered = lowpass(reference[..., lo:hi], cutoff, rate)
            stimuli[anchor] = filtered[..., excerpt.start - lo:excerpt.stop - lo]
        for condition, audio in estimates.items():
            stimuli[condition] = audio[..., cut]
        gains, level, own = loudness_gains(stimuli, rate, loudness)
        entries = []
        folder = out / "audio" / trial_id
        open_key = new_key()
        write_audio(folder / f"{open_key}.wav", stimuli[REFERENCE] * gains[REFERENCE], rate,
                    subtype="FLOAT")
        for condition, audio in stimuli.items():
            key = new_key()
            path = folder / f"{key}.wav"
            write_audio(path, (audio * gains[condition]).astype(np.float32), rate,
                        subtype="FLOAT")
            entries.append({"key": key, "condition": condition,
                            "file": path.relative_to(out).as_posix(),
                            "sha256": sha256_file(path), "gain": gains[condition],
                            "loudness_lufs": own[condition] if np.isfinite(own[condition])
                            else None})
        excerpt_folder = out / "excerpts" / trial_id
        write_audio(excerpt_folder / "reference.wav", reference[..., cut], rate, "FLOAT")
        write_audio(excerpt_folder / "interference.wav", interference[..., cut], rate, "FLOAT")
        open_path = folder / f"{open_key}.wav"
        trials.append({
            "id": trial_id, "training": index == 0, "track": excerpt.track,
            "start": excerpt.start, "stop": excerpt.stop,
            "start_seconds": excerpt.start / rate, "loudness_lufs": level,
            "reference": {"key": open_key, "file": open_path.relative_to(out).as_posix(),
                          "sha256": sha256_file(open_path), "gain": gains[REFERENCE]},
            "excerpts": {part: {"file": f"excerpts/{trial_id}/{part}.wav",
                                "sha256": sha256_file(excerpt_folder / f"{part}.wav")}
                         for part in ("reference", "interference")},
            "stimuli": entries})
    for page_file in PAGE_FILES:
        shutil.copyfile(page_folder() / page_file, out / page_file)
    description = {
        "format": FORMAT, "version": 1, "gansep": __version__, "name": name,
        "method": "MUSHRA (ITU-R BS.1534-3)", "source": source, "rate": rate,
        "seconds": seconds, "seed": seed, "target_loudness_lufs": loudness,
        "min_activity": min_activity,
        "references": str(references),
        "conditions": {c: str(folder) for c, folder in conditions.items()},
        "hidden_reference": REFERENCE, "anchors": dict(ANCHORS),
        "page_sha256": {f: sha256_file(out / f) for f in PAGE_FILES},
        "trials": trials}
    with atomic_target(out / "test.json") as tmp:
        Path(tmp).write_text(json.dumps(description, indent=1))
    log.info("wrote %s: %d trials + training, %d stimuli each, %d Hz, %.1f s", out,
             len(trials) - 1, len(trials[0]["stimuli"]), rate, seconds)
    return description


def load_test(folder: Path) -> dict:
    """The description of a test folder; ConfigError naming the file and key when it is not
    one (not JSON, another format, or a trial, stimulus or setting missing)."""
    path = Path(folder) / "test.json"
    if not path.is_file():
        raise ConfigError(f"{folder}: not a gansep listening test (no test.json)")
    try:
        description = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: damaged test description ({error})") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a gansep listening test description")
    _check_description(description, path)
    return description


def _check_description(description: dict, path: Path) -> None:
    def need(value, key: str, kind, what: str):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(f"{path}: damaged test description: {key} should be {what}, "
                              f"found {json.dumps(value)[:60]}")
        return value

    rate = need(description.get("rate"), "rate", int, "a sample rate in Hz")
    seconds = need(description.get("seconds"), "seconds", (int, float), "the excerpt length")
    if rate <= 0 or not seconds > 0:
        raise ConfigError(f"{path}: damaged test description: rate {rate} and seconds "
                          f"{seconds} should be positive")
    trials = need(description.get("trials"), "trials", list, "a list of trials")
    if not trials:
        raise ConfigError(f"{path}: damaged test description: trials is empty")
    for index, trial in enumerate(trials):
        where = f"trials[{index}]"
        need(trial, where, dict, "a trial")
        need(trial.get("id"), f"{where}.id", str, "a trial id")
        entries = [("reference", trial.get("reference"))] + [
            (f"stimuli[{i}]", s) for i, s in enumerate(need(
                trial.get("stimuli"), f"{where}.stimuli", list, "a list of stimuli"))]
        for name, entry in entries:
            need(entry, f"{where}.{name}", dict, "a stimulus")
            for key in ("file", "sha256"):
                need(entry.get(key), f"{where}.{name}.{key}", str, "a string")
        for i, stimulus in enumerate(trial["stimuli"]):
            for key in ("key", "condition"):
                need(stimulus.get(key), f"{where}.stimuli[{i}].{key}", str, "a string")


def listed_file(folder: Path, relative: str, key: str) -> Path:
    """The file ``relative`` (as ``test.json`` lists it under ``key``) of the test in
    ``folder``, resolved; ConfigError when it, or what a link of it points to, lies outside
    the test folder, or is not a file."""
    root = Path(folder).resolve()
    if Path(relative).is_absolute():
        raise ConfigError(f"{Path(folder) / 'test.json'}: {key} {relative!r} is an absolute "
                          "path; a test lists only files inside its folder")
    path = Path(folder) / relative
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        link = " (through a symbolic link)" if resolved != Path(os.path.abspath(path)) else ""
        raise ConfigError(f"{Path(folder) / 'test.json'}: {key} {relative!r} leads outside the "
                          f"test folder{link}, to {resolved}: refused")
    if not resolved.is_file():
        raise ConfigError(f"{path}: missing (listed in test.json as {key})")
    return resolved


def served_files(folder: Path, description: dict) -> dict[str, tuple[Path, str]]:
    """``{URL path: (file, SHA-256 recorded in test.json)}`` of everything a test serves: the
    page and every trial's open reference and stimuli, each checked by `listed_file`."""
    files = {}
    page = description.get("page_sha256") or {}
    for name in PAGE_FILES:
        if not isinstance(page.get(name), str):
            raise ConfigError(f"{Path(folder) / 'test.json'}: page_sha256.{name} is missing")
        files["/" + name] = (listed_file(folder, name, f"page file {name}"), page[name])
    files["/"] = files["/index.html"]
    for index, trial in enumerate(description["trials"]):
        for name, entry in [("reference", trial["reference"])] + [
                (f"stimuli[{i}]", s) for i, s in enumerate(trial["stimuli"])]:
            path = listed_file(folder, entry["file"], f"trials[{index}].{name}.file")
            files["/" + entry["file"]] = (path, entry["sha256"])
    return files


def rated_trials(description: dict) -> list[dict]:
    """The trials raters' ratings count for (the training trial left out)."""
    return [t for t in description["trials"] if not t.get("training")]
