"""Up-front dataset checks: every problem of a stems folder (or MUSDB18-HQ) listed at once,
rather than the first one met during training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gansep.data.audio import (AUDIO_EXTENSIONS, DataError, audio_info, read_audio,
                               wav_truncation)
from gansep.data.folder import MIXTURE
from gansep.data.lyrics import LINES_FILE, WORDS_FILE, read_lines, read_words
from gansep.errors import ConfigError
from gansep.data.tracks import SPLITS, TrackCollection


def check_file(path: Path) -> tuple[list[str], np.ndarray | None, tuple | None]:
    """``(problems, audio or None, (rate, frames, channels) or None)`` of one audio file:
    unreadable, truncated, empty, NaN or infinite samples (the audio then has them as 0)."""
    try:
        info = audio_info(path)
        data, _ = read_audio(path)
    except DataError as error:
        return [str(error)], None, None
    problems = []
    if data.shape[-1] != info.frames:
        problems.append(f"{path}: truncated: header says {info.frames} frames, "
                        f"{data.shape[-1]} could be read")
    truncated = wav_truncation(path)
    if truncated:
        problems.append(truncated)
    if data.shape[-1] == 0:
        problems.append(f"{path}: empty audio (0 samples)")
        return problems, None, (info.samplerate, 0, info.channels)
    if not np.isfinite(data).all():
        problems.append(f"{path}: NaN or infinite samples")
        data = np.nan_to_num(data)
    return problems, data, (info.samplerate, data.shape[-1], info.channels)


def check_track(folder: Path, tolerance: float, expected_rate: int | None = None) -> list[str]:
    """The problems of one track folder: unreadable files, NaN, unequal rates, lengths or
    channel counts, a mixture that is not the sum of the stems (max |difference| over the
    mixture's peak above ``tolerance``), silent stems."""
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith("."))
    if not files:
        return [f"{folder}: no audio files"]
    problems, audio, shapes = [], {}, {}
    for path in files:
        found, data, shape = check_file(path)
        problems += found
        if shape is not None:
            shapes[path] = shape
        if data is None:
            continue
        audio[path.stem] = data
        if path.stem != MIXTURE and not np.any(data):
            problems.append(f"{path}: silent stem (all samples zero)")
    if expected_rate is not None:
        problems += [f"{p}: sample rate {s[0]} Hz, expected {expected_rate} Hz"
                     for p, s in shapes.items() if s[0] != expected_rate]
    for index, name in enumerate(("sample rate", "length", "channel count")):
        values = {s[index] for s in shapes.values()}
        if len(values) > 1:
            listing = ", ".join(f"{p.name}: {s[index]}" for p, s in shapes.items())
            problems.append(f"{folder}: unequal {name}s ({listing})")
    stems = [a for n, a in audio.items() if n != MIXTURE]
    if MIXTURE in audio and stems and len({a.shape for a in audio.values()}) == 1:
        mixture = audio[MIXTURE]
        error = np.abs(mixture - np.sum(stems, axis=0)).max() / max(np.abs(mixture).max(), 1e-9)
        if error > tolerance:
            problems.append(f"{folder}: mixture differs from the sum of the stems by "
                            f"{error:.2e} of its peak (tolerance {tolerance:g})")
    return problems


def check_dataset(root: str | Path, tolerance: float = 1e-3,
                  expected_rate: int | None = None) -> tuple[int, list[str]]:
    """``(tracks checked, problems)`` for ``<root>/<split>/<track>/`` (MUSDB18-HQ's layout
    too)."""
    root = Path(root)
    if not root.is_dir():
        return 0, [f"{root}: dataset root does not exist or is not a folder"]
    splits = [root / s for s in SPLITS if (root / s).is_dir()]
    if not splits:
        return 0, [f"{root}: none of the split folders {list(SPLITS)} exists"]
    count, problems, folders = 0, [], []
    for split in splits:
        tracks = sorted(p for p in split.iterdir() if p.is_dir())
        if not tracks:
            problems.append(f"{split}: no track folders")
        for track in tracks:
            count += 1
            folders.append(track)
            problems += check_track(track, tolerance, expected_rate)
    return count, problems + _across_tracks(folders)


def check_collection(collection: TrackCollection, tolerance: float = 1e-3,
                     expected_rate: int | None = None,
                     notes: list[str] | None = None) -> tuple[int, list[str]]:
    """``(tracks checked, problems)`` of any track collection (a run config's data): each
    track's files (unreadable, truncated, empty, NaN), its rate, silent stems, a mixture file
    that is not the sum of the stems, and across tracks a stem or lyrics some tracks lack.
    Tracks its collection could not open are problems too. The tracks' remarks (no problems:
    e.g. bleed flags) are appended to ``notes`` where given."""
    count, problems, seen = 0, [], []
    for split in SPLITS:
        problems += [f"{name}: {problem}" if name not in problem else problem
                     for name, problem in collection.unusable(split).items()]
        try:
            tracks = collection.tracks(split)
        except (DataError, ConfigError) as error:
            problems.append(f"{split}: {error}")
            continue
        for track in tracks:
            count += 1
            seen.append(track)
            problems += _track_problems(track, tolerance, expected_rate)
            if notes is not None:
                notes += track.remarks()
    stems = set().union(*(t.stems for t in seen if t.has_stems)) if seen else set()
    problems += [f"{track.name}: no {name} stem (other tracks have one)"
                 for track in seen if track.has_stems for name in sorted(stems - set(track.stems))]
    if any(track.lines is not None for track in seen):
        problems += [f"{track.name}: no lyrics annotation (other tracks have one)"
                     for track in seen if track.lines is None]
    return count, problems


def _track_problems(track, tolerance: float, expected_rate: int | None) -> list[str]:
    problems = []
    for path in track.source_files():
        problems += check_file(Path(path))[0]
    if problems:
        return problems  # the content checks below would only repeat them
    if expected_rate is not None and track.sample_rate != expected_rate:
        problems.append(f"{track.name}: sample rate {track.sample_rate} Hz, expected "
                        f"{expected_rate} Hz")
    if not track.has_stems:
        return problems
    try:
        stems = track.read_stems(0, track.num_frames)
        mixture = track.read_mixture(0, track.num_frames)
    except DataError as error:
        return problems + [str(error)]
    problems += [f"{track.name}: silent stem {name} (all samples zero)"
                 for name, audio in stems.items() if not np.any(audio)]
    if stems:
        error = (np.abs(mixture - np.sum(list(stems.values()), axis=0)).max()
                 / max(np.abs(mixture).max(), 1e-9))
        if error > tolerance:
            problems.append(f"{track.name}: mixture differs from the sum of the stems by "
                            f"{error:.2e} of its peak (tolerance {tolerance:g})")
    return problems


def _across_tracks(tracks: list[Path]) -> list[str]:
    """Problems only visible across tracks: a stem some tracks have and this one lacks, and
    lyrics annotations (lines, words) missing where other tracks have them, or unreadable."""
    stems = {track: {p.stem for p in track.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS
                     and not p.name.startswith(".")} for track in tracks}
    every = set().union(*stems.values()) if stems else set()
    problems = [f"{track}: no {name} stem (other tracks have one)"
                for track in tracks for name in sorted(every - stems[track])]
    for file, read in ((LINES_FILE, read_lines), (WORDS_FILE, read_words)):
        having = [track for track in tracks if (track / file).is_file()]
        if having:
            problems += [f"{track}: no {file} (other tracks have lyrics annotations)"
                         for track in tracks if track not in having]
        for track in having:
            try:
                read(track / file)
            except (DataError, ConfigError) as error:
                problems.append(str(error))
    return problems
