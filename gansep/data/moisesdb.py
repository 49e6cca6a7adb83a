"""MoisesDB (Pereira et al., 2023: 240 songs, 14 h) read from its published layout, without its
reference package (which installs only from its repository)::

    <root>/<provider>/<track_id>/data.json
    <root>/<provider>/<track_id>/<stemName>/<id>.<extension>

``data.json`` holds ``artist``, ``song``, ``genre`` and ``stems``: a list of ``{stemName,
tracks: [{id, extension, trackType, has_bleed}]}``. Each recorded track is one file; gansep
maps tracks to its targets by a **stem map** (`STEM_MAPS`, or a mapping of your own from
stem names or track types to target names, one target taking ``rest``), sums each target's
tracks, and trims every file to the song's shortest one, so that the mixture is the sum of
the targets for every sample. (The reference code trims the tracks of one stem to the
shortest and pads the stems to the longest for the mixture; MoisesDB's files of one song
have equal lengths, where the two agree.) A mono file is played on both channels, as the
reference code does; any other difference of channels, and any other sample rate, is refused.

Splits are drawn from the track id (SHA-256: 80 % train, 10 % valid, 10 % test), the same on
every machine, or read from a split file (``{train: [ids], valid: [...], test: [...]}``, JSON
or YAML). A ``data.json`` that is malformed, names a file outside its track's folder (``..``,
an absolute path, a link out), a missing or unreadable file, or (with ``lead-backing``) a song
with no lead or no backing track, makes that song unusable: it is left out and reported (as
`StemsFolder` does with a broken track folder), the other songs go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from gansep.data.audio import DataError, audio_info, read_checked
from gansep.data.tracks import SPLITS, Track, TrackCollection
from gansep.errors import ConfigError
from gansep.names import plain_name_problem

log = logging.getLogger(__name__)

DATA_FILE = "data.json"
REST = "rest"  # the value of the target that takes every track no other target names
LEAD = ("lead male singer", "lead female singer")
BACKING = ("background vocals", "human choir")
#: MoisesDB's stems and track types (its taxonomy), what a stem map may name.
TAXONOMY = {
    "vocals": [*LEAD, *BACKING, "other (vocoder, beatboxing etc)"],
    "bass": ["bass guitar", "bass synthesizer (moog etc)",
             "contrabass/double bass (bass of instrings)", "tuba (bass of brass)",
             "bassoon (bass of woodwind)"],
    "drums": ["snare drum", "toms", "kick drum", "cymbals", "overheads",
              "full acoustic drumkit", "drum machine"],
    "other": ["fx/processed sound, scratches, gun shots, explosions etc", "click track"],
    "guitar": ["clean electric guitar", "distorted electric guitar",
               "lap steel guitar or slide guitar", "acoustic guitar"],
    "other_plucked": ["banjo, mandolin, ukulele, harp etc"],
    "percussion": ["a-tonal percussion (claps, shakers, congas, cowbell etc)",
                   "pitched percussion (mallets, glockenspiel, ...)"],
    "piano": ["grand piano", "electric piano (rhodes, wurlitzer, piano sound alike)"],
    "other_keys": ["organ, electric organ", "synth pad", "synth lead",
                   "other sounds (hapischord, melotron etc)"],
    "bowed_strings": ["violin (solo)", "viola (solo)", "cello (solo)", "violin section",
                      "viola section", "cello section", "string section", "other strings"],
    "wind": ["brass (trumpet, trombone, french horn, brass etc)",
             "flutes (piccolo, bamboo flute, panpipes, flutes etc)",
             "reeds (saxophone, clarinets, oboe, english horn, bagpipe)", "other wind"],
}
TRACK_TYPES = {kind for kinds in TAXONOMY.values() for kind in kinds}
#: The stem maps by name: ``{target: [stem names or track types] or "rest"}``.
STEM_MAPS = {
    "vocals-accompaniment": {"vocals": ["vocals"], "accompaniment": REST},
    "4stems": {"vocals": ["vocals"], "bass": ["bass"], "drums": ["drums"], "other": REST},
    "lead-backing": {"lead": list(LEAD), "backing": list(BACKING), "accompaniment": REST},
}
#: Targets a song must have a track for, per stem map (otherwise it is left out).
REQUIRED = {"lead-backing": ("lead", "backing")}
SPLIT_SHARES = (0.8, 0.9)  # train below the first, valid below the second, test above


def _stem_key(name: str) -> str:
    return str(name).strip().lower().replace(" ", "_")


class StemMap:
    """Which target each recorded track goes to: by its track type where the map names it,
    else by its stem name, else to the ``rest`` target."""

    def __init__(self, stems: str | dict):
        self.name = stems if isinstance(stems, str) else "custom"
        if isinstance(stems, str):
            if stems not in STEM_MAPS:
                raise ConfigError(f"stems: unknown stem map {stems!r}; expected one of "
                                  f"{sorted(STEM_MAPS)} or a mapping {{target: [stem names or "
                                  f"track types], other: {REST}}}")
            stems = STEM_MAPS[stems]
        if not isinstance(stems, dict) or not stems:
            raise ConfigError(f"stems: expected a stem map name or a non-empty mapping of "
                              f"targets, got {stems!r}")
        self.targets = list(stems)
        self.by_type: dict[str, str] = {}
        self.by_stem: dict[str, str] = {}
        rest = [target for target, names in stems.items() if names == REST]
        if len(rest) != 1:
            raise ConfigError(f"stems: exactly one target must take {REST!r} (every track no "
                              f"other target names, so that the targets sum to the mixture); "
                              f"found {len(rest)}")
        self.rest = rest[0]
        for target, names in stems.items():
            problem = plain_name_problem(target)
            if problem:
                raise ConfigError(f"stems: target {problem}")
            if names == REST:
                continue
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ConfigError(f"stems.{target}: expected a list of stem names or track "
                                  f"types, or {REST!r}; got {names!r}")
            for name in names:
                if name.strip().lower() in TRACK_TYPES:
                    self.by_type[name.strip().lower()] = target
                elif _stem_key(name) in TAXONOMY:
                    self.by_stem[_stem_key(name)] = target
                else:
                    raise ConfigError(
                        f"stems.{target}: {name!r} is neither a MoisesDB stem name "
                        f"({', '.join(sorted(TAXONOMY))}) nor a track type (e.g. "
                        f"{LEAD[0]!r}; see gansep.data.moisesdb.TAXONOMY)")
        self.required = REQUIRED.get(self.name, ())

    def target(self, stem: str, track_type: str) -> str:
        kind = str(track_type).strip().lower()
        if kind in self.by_type:
            return self.by_type[kind]
        return self.by_stem.get(_stem_key(stem), self.rest)


class MoisesDBTrack(Track):
    """One MoisesDB song: its targets, each the sum of its recorded tracks."""

    def __init__(self, folder: Path, stem_map: StemMap, sample_rate: int | None = None):
        self.name = folder.name
        self.path = folder
        meta = _read_data(folder / DATA_FILE)
        self.artist, self.song = str(meta.get("artist", "")), str(meta.get("song", ""))
        self.genre = str(meta.get("genre", ""))
        self.parts: dict[str, list[Path]] = {target: [] for target in stem_map.targets}
        self.bleeding: list[str] = []
        root = folder.resolve()
        for number, stem in enumerate(meta["stems"]):
            where = f"{folder / DATA_FILE}: stems[{number}]"
            if not isinstance(stem, dict) or not isinstance(stem.get("tracks"), list):
                raise DataError(f"{where}: expected {{stemName, tracks: [...]}}, got {stem!r}")
            stem_name = stem.get("stemName")
            for index, entry in enumerate(stem["tracks"]):
                here = f"{where}.tracks[{index}]"
                if not isinstance(entry, dict):
                    raise DataError(f"{here}: expected {{id, extension, trackType}}, got "
                                    f"{entry!r}")
                values = [stem_name, entry.get("id"), entry.get("extension")]
                problems = [p for p in map(plain_name_problem, values) if p]
                if problems:
                    raise DataError(f"{here}: {problems[0]} (stemName, id and extension must "
                                    "name a file inside the track's folder)")
                path = folder / stem_name / f"{entry['id']}.{entry['extension']}"
                try:
                    inside = path.resolve().is_relative_to(root)
                except OSError:
                    inside = False
                if not inside:
                    raise DataError(f"{here}: {path} leads outside {folder} (a link out): "
                                    "refused, nothing is read from outside the dataset")
                if not path.is_file():
                    raise DataError(f"{here}: {path} is missing")
                target = stem_map.target(stem_name, entry.get("trackType", ""))
                self.parts[target].append(path)
                if entry.get("has_bleed"):
                    self.bleeding.append(str(path.relative_to(folder)))
        files = [p for paths in self.parts.values() for p in paths]
        if not files:
            raise DataError(f"{folder / DATA_FILE}: no recorded track (an empty stems list)")
        missing = [t for t in stem_map.required if not self.parts[t]]
        if missing:
            raise DataError(f"{folder / DATA_FILE}: no {' and no '.join(missing)} track, "
                            f"which the {stem_map.name} stem map needs: song left out")
        infos = {path: audio_info(path) for path in files}
        # The odd file out is the culprit: compare each file with what most files have.
        self.sample_rate = Counter(i.samplerate for i in infos.values()).most_common(1)[0][0]
        wanted = sample_rate or self.sample_rate
        counts = Counter(i.channels for i in infos.values() if i.channels > 1)
        self.channels = counts.most_common(1)[0][0] if counts else 1
        for path, info in infos.items():
            if info.samplerate != wanted:
                raise DataError(f"{path}: sample rate {info.samplerate} Hz, but the song's "
                                f"other files have {wanted} Hz")
            if info.channels not in (1, self.channels):
                raise DataError(f"{path}: {info.channels} channels, but the song's other files "
                                f"have {self.channels}")
            if info.frames == 0:
                raise DataError(f"{path}: empty audio (0 frames)")
        self.num_frames = min(info.frames for info in infos.values())
        self.stems = list(self.parts)

    def _read(self, path: Path, start: int, stop: int) -> np.ndarray:
        audio = read_checked(path, start, stop)[0]
        return np.repeat(audio, self.channels, axis=0) if audio.shape[0] == 1 else audio

    def read_stems(self, start: int, stop: int) -> dict[str, np.ndarray]:
        silence = np.zeros((self.channels, stop - start), dtype=np.float32)
        return {target: (np.sum([self._read(p, start, stop) for p in paths], axis=0,
                                dtype=np.float32) if paths else silence.copy())
                for target, paths in self.parts.items()}

    def read_mixture(self, start: int, stop: int) -> np.ndarray:
        return np.sum(list(self.read_stems(start, stop).values()), axis=0, dtype=np.float32)

    def source_files(self) -> list[Path]:
        return sorted(p for paths in self.parts.values() for p in paths)

    def folder(self) -> Path:
        return self.path

    def remarks(self) -> list[str]:
        return ([f"{self.name}: recorded with bleed (has_bleed) from other instruments: "
                 f"{', '.join(self.bleeding)}"] if self.bleeding else [])


def _read_data(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: missing (a MoisesDB track folder holds data.json)") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("stems"), list):
        raise DataError(f"{path}: expected a JSON object with a 'stems' list")
    return meta


def split_of(track_id: str) -> str:
    """The split of a track id when no split file is given: SHA-256 of the id, 80/10/10."""
    share = int(hashlib.sha256(track_id.encode()).hexdigest()[:8], 16) / 16 ** 8
    return "train" if share < SPLIT_SHARES[0] else "valid" if share < SPLIT_SHARES[1] \
        else "test"


def read_split_file(path: str | Path) -> dict[str, set[str]]:
    """``{split: track ids}`` of a split file (JSON or YAML ``{train: [...], valid: [...],
    test: [...]}``); ConfigError naming the file for anything else."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"split_file {path}: unreadable ({error})") from None
    if not isinstance(data, dict) or not set(data) <= set(SPLITS) or not all(
            isinstance(v, list) and all(isinstance(i, str) for i in v) for v in data.values()):
        raise ConfigError(f"split_file {path}: expected {{train: [track ids], valid: [...], "
                          "test: [...]}}")
    splits = {split: set(data.get(split) or []) for split in SPLITS}
    twice = sorted((splits["train"] & splits["valid"]) | (splits["valid"] & splits["test"])
                   | (splits["train"] & splits["test"]))
    if twice:
        raise ConfigError(f"split_file {path}: track {twice[0]} is in two splits")
    return splits


class MoisesDB(TrackCollection):
    """MoisesDB's songs as a track collection (see the module's docstring).

    Args:
        root: the dataset folder (``<root>/<provider>/<track_id>/data.json``).
        stems: a stem map's name (`STEM_MAPS`: ``vocals-accompaniment``, ``4stems``,
            ``lead-backing``) or ``{target: [stem names or track types] or "rest"}``.
        split_file: ``{train: [ids], valid: [...], test: [...]}`` instead of the split drawn
            from each track id.
        sample_rate: if set, every file must have this rate (a check, not a resampling).
    """

    def __init__(self, root: str | Path, stems: str | dict = "vocals-accompaniment",
                 split_file: str | Path | None = None, sample_rate: int | None = None):
        self.root = Path(root)
        self.stem_map = StemMap(stems)
        self.stems_spec = stems
        self.split_file = split_file
        self.splits = read_split_file(split_file) if split_file is not None else None
        self.sample_rate = sample_rate
        self._unusable: dict[str, dict[str, str]] = {}

    def identity(self) -> dict:
        return {**super().identity(), "root": str(self.root.resolve()),
                "stems": self.stems_spec, "split_file": None if self.split_file is None
                else str(Path(self.split_file).resolve()), "sample_rate": self.sample_rate}

    def _folders(self) -> list[Path]:
        if not self.root.is_dir():
            raise DataError(f"{self.root}: dataset root does not exist or is not a folder")
        folders = sorted(p.parent for p in self.root.glob(f"*/*/{DATA_FILE}")
                         if not p.parent.name.startswith("."))
        if not folders:
            raise DataError(f"{self.root}: no <provider>/<track_id>/{DATA_FILE} (expected "
                            "MoisesDB's layout)")
        return folders

    def unusable(self, split: str) -> dict[str, str]:
        try:
            self.tracks(split)
        except DataError:
            pass  # a split without a usable song: tracks() says so to whoever asks for it
        return dict(self._unusable.get(split, {}))

    def _in_split(self, track_id: str, split: str) -> bool:
        if self.splits is not None:
            return track_id in self.splits[split]
        return split_of(track_id) == split

    @lru_cache(maxsize=None)
    def tracks(self, split: str) -> list[MoisesDBTrack]:
        self.check_split(split)
        tracks, unusable = [], self._unusable.setdefault(split, {})
        for folder in self._folders():
            if not self._in_split(folder.name, split):
                continue
            try:
                tracks.append(MoisesDBTrack(folder, self.stem_map, self.sample_rate))
            except DataError as error:  # reported once, here; the other songs go on
                unusable[folder.name] = str(error)
                log.error("skipping song %s: %s", folder.name, error)
        if not tracks:
            listing = "".join(f"\n  {problem}" for problem in unusable.values())
            raise DataError(f"{self.root}: split {split!r} holds no usable MoisesDB song"
                            f"{listing}")
        return tracks
