"""A decoded cache of any track collection: every stem decoded once, resampled once to the
model's rate and channel count, and stored as one ``.npy`` file per track and stem that
training reads through a memory map (a training excerpt is then a slice, not a decode).

Layout: ``<cache_dir>/<key>/`` where ``key`` names the collection, the rate, the channels and
the sample type, holding ``manifest.json`` and ``<split>/<track>/<stem>.npy``. The manifest
records, per track, its source files (path, size, modification time), its length and, per
cached file, its size and SHA-256, plus the cache format and gansep's version. A track whose
sources changed, whose cache file is missing or has the wrong size (or, with ``verify``, the
wrong SHA-256) is rebuilt with a message; nothing stale or partial is ever read. Files are
written atomically, and one process at a time builds (a lock file), so DataLoader workers and
DDP ranks starting together wait for the first and then read.

Sample types: ``float32`` stores exactly what the direct reader gives after the same
resampling (bit-identical excerpts); ``float16`` halves the footprint and adds an error
about 74 dB below the signal (-73.7 dB on the MUSDB18 excerpt in shared data; see
`quantisation_error_db`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from gansep.version import __version__
from gansep.atomic import atomic_target, sha256_file
from gansep.data.audio import DataError, fit_channels, resample
from gansep.data.tracks import SPLITS, Track, TrackCollection

log = logging.getLogger(__name__)

FORMAT = "gansep-cache/1"
DTYPES = ("float32", "float16")


def default_cache_dir() -> Path:
    """``$GANSEP_CACHE``, else ``$XDG_CACHE_HOME/gansep``, else ``~/.cache/gansep``."""
    if os.environ.get("GANSEP_CACHE"):
        return Path(os.environ["GANSEP_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gansep"


def quantisation_error_db(audio: np.ndarray, dtype: str) -> float:
    """Energy of the error that storing ``audio`` as ``dtype`` adds, relative to the signal's,
    in dB (-inf for an exact type)."""
    error = audio.astype(dtype).astype(np.float64) - audio
    signal = float(np.sum(np.square(audio, dtype=np.float64)))
    noise = float(np.sum(np.square(error)))
    if noise == 0:
        return float("-inf")
    return 10 * np.log10(noise / max(signal, 1e-30))


def _source_record(track: Track) -> list[dict]:
    files = track.source_files()
    if not files:
        raise DataError(f"{track.name}: no source files to cache (the collection does not "
                        "say where the track is read from)")
    return [{"path": str(p), "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns}
            for p in files]


def _build_track(track: Track, folder: Path, rate: int, channels: int, dtype: str) -> dict:
    """Decodes, resamples and stores one track; returns its manifest entry."""
    sources = _source_record(track)
    stems = track.read_stems(0, track.num_frames)
    entry = {"sources": sources, "native_rate": track.sample_rate,
             "native_frames": track.num_frames, "stems": {}}
    for name, audio in stems.items():
        audio = fit_channels(resample(audio, track.sample_rate, rate), channels)
        if not np.isfinite(audio).all():
            raise DataError(f"{track.name}: stem {name} holds NaN or infinite samples")
        path = folder / f"{name}.npy"
        with atomic_target(path) as tmp:
            np.save(tmp, np.ascontiguousarray(audio.astype(dtype)), allow_pickle=False)
        entry["stems"][name] = {"file": path.name, "size": path.stat().st_size,
                                "sha256": sha256_file(path)}
        entry["frames"] = int(audio.shape[-1])
    return entry


def _build_job(args) -> tuple[str, dict | str]:
    track, folder, rate, channels, dtype = args
    try:
        return track.name, _build_track(track, folder, rate, channels, dtype)
    except DataError as error:
        return track.name, str(error)


class CachedTrack(Track):
    """A track read from the cache: stems as memory-mapped ``(channels, time)`` arrays at the
    model's rate (no mixture file: the mixture is the sum of the stems)."""

    def __init__(self, name: str, folder: Path, entry: dict, rate: int, channels: int):
        self.name = name
        self.folder = folder
        self.sample_rate = rate
        self.channels = channels
        self.num_frames = entry["frames"]
        self.stems = list(entry["stems"])
        self._files = {stem: folder / info["file"] for stem, info in entry["stems"].items()}
        self._maps: dict[str, np.ndarray] = {}

    def _map(self, stem: str) -> np.ndarray:
        if stem not in self._maps:  # opened lazily, so each DataLoader worker maps its own
            self._maps[stem] = np.load(self._files[stem], mmap_mode="r", allow_pickle=False)
        return self._maps[stem]

    def read_stems(self, start: int, stop: int) -> dict[str, np.ndarray]:
        return {stem: np.asarray(self._map(stem)[:, start:stop], dtype=np.float32)
                for stem in self.stems}

    def read_mixture(self, start: int, stop: int) -> np.ndarray:
        return sum(self.read_stems(start, stop).values())

    def source_files(self) -> list[Path]:
        return list(self._files.values())

    def __getstate__(self) -> dict:  # memory maps are reopened in the receiving process
        return {**self.__dict__, "_maps": {}}


class CachedCollection(TrackCollection):
    """``collection`` served from a decoded cache under ``cache_dir`` at ``sample_rate`` and
    ``channels`` (the model's), built on first use.

    Args:
        collection: the collection to cache (any: MUSDB, stems folders, ...).
        cache_dir: where caches live (one sub-folder per collection, rate, channels and type).
        sample_rate, channels: what the model reads.
        dtype: ``float32`` (exact) or ``float16`` (half the size, ~-74 dB error).
        verify: check every cached file's SHA-256 when opening (slower; sizes are always
            checked).
        workers: processes that build tracks in parallel.
    """

    def __init__(self, collection: TrackCollection, cache_dir: str | Path, sample_rate: int,
                 channels: int, dtype: Literal["float32", "float16"] = "float32",
                 verify: bool = False, workers: int = 1):
        if dtype not in DTYPES:
            raise DataError(f"cache dtype {dtype!r}: expected one of {list(DTYPES)}")
        self.collection = collection
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.dtype = dtype
        self.verify = verify
        self.workers = max(1, int(workers))
        self.root = Path(cache_dir) / self.key()
        self._tracks: dict[str, list[CachedTrack]] = {}
        self._unusable: dict[str, dict[str, str]] = {}

    def key(self) -> str:
        identity = json.dumps(self.collection.identity(), sort_keys=True)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
        kind = type(self.collection).__name__.lower()
        return f"{kind}-{digest}-{self.sample_rate}hz-{self.channels}ch-{self.dtype}"

    # -------------------------------------------------------------------- manifest
    def _manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def _read_manifest(self) -> dict:
        empty = {"format": FORMAT, "gansep_version": __version__, "sample_rate": self.sample_rate,
                 "channels": self.channels, "dtype": self.dtype,
                 "collection": self.collection.identity(), "splits": {}}
        path = self._manifest_path()
        if not path.exists():
            return empty
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            log.warning("%s: unreadable cache manifest (%s); rebuilding the cache", path, error)
            return empty
        same = all(manifest.get(k) == empty[k] for k in ("format", "gansep_version",
                                                          "sample_rate", "channels", "dtype"))
        if not same:
            log.warning("%s: written by another gansep or for other settings; rebuilding",
                        path)
            return empty
        return manifest

    def _write_manifest(self, manifest: dict) -> None:
        with atomic_target(self._manifest_path()) as tmp:
            Path(tmp).write_text(json.dumps(manifest, indent=1))

    @contextmanager
    def _lock(self):
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "build.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # the others wait here, then find it built
                log.info("%s: another process is building this cache (it holds %s); waiting "
                         "for it", self.root, self.root / "build.lock")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --------------------------------------------------------------------- checks
    def _problem(self, track: Track, entry: dict | None, folder: Path) -> str | None:
        """Why the cached copy of ``track`` cannot be used, or None."""
        if entry is None:
            return "not cached yet"
        try:
            if entry["sources"] != _source_record(track):
                return "its source files changed"
        except (OSError, DataError) as error:
            return f"its source files cannot be read ({error})"
        for stem, info in entry["stems"].items():
            path = folder / info["file"]
            if not path.is_file():
                return f"{path} is missing"
            if path.stat().st_size != info["size"]:
                return f"{path} has {path.stat().st_size} bytes, {info['size']} expected"
            if self.verify and sha256_file(path) != info["sha256"]:
                return f"{path}: SHA-256 differs from the manifest's"
        return None

    # ------------------------------------------------------------------- building
    def prepare(self, splits: Sequence[str] = ("train", "valid"), progress: bool = False) -> dict:
        """Builds (or checks) the cache of ``splits``. Returns ``{split: (tracks, bytes)}``."""
        from tqdm.auto import tqdm

        footprint = {}
        with self._lock():
            manifest = self._read_manifest()
            unchanged = json.dumps(manifest, sort_keys=True)
            for split in splits:
                self.check_split(split)
                tracks = self.collection.tracks(split)
                entries = manifest["splits"].setdefault(split, {})
                todo = []
                for track in tracks:
                    folder = self.root / split / track.name
                    problem = self._problem(track, entries.get(track.name), folder)
                    if problem is not None:
                        if problem != "not cached yet":
                            log.warning("cache of %s/%s is stale (%s): rebuilding", split,
                                        track.name, problem)
                        entries.pop(track.name, None)
                        todo.append((track, folder, self.sample_rate, self.channels,
                                     self.dtype))
                if todo:
                    # The manifest never lists a track whose files are being rewritten.
                    self._write_manifest(manifest)
                    bar = tqdm(total=len(todo), desc=f"caching {split}", unit="track",
                               disable=not progress)
                    if self.workers > 1 and len(todo) > 1:
                        with ProcessPoolExecutor(self.workers) as pool:
                            results = pool.map(_build_job, todo)
                            for name, result in results:
                                self._record(entries, split, name, result)
                                bar.update()
                    else:
                        for job in todo:
                            self._record(entries, split, *_build_job(job))
                            bar.update()
                    bar.close()
                    self._write_manifest(manifest)
                known = {t.name for t in tracks}
                for gone in set(entries) - known:  # no longer in the collection
                    entries.pop(gone)
                    shutil.rmtree(self.root / split / gone, ignore_errors=True)
                size = sum(info["size"] for name, entry in entries.items() if name in known
                           for info in entry["stems"].values())
                footprint[split] = (len(entries), size)
            if json.dumps(manifest, sort_keys=True) != unchanged:
                self._write_manifest(manifest)
        return footprint

    def _record(self, entries: dict, split: str, name: str, result: dict | str) -> None:
        if isinstance(result, str):
            self._unusable.setdefault(split, {})[name] = result
            log.error("skipping track %s: %s", name, result)
        else:
            entries[name] = result

    # ---------------------------------------------------------------- collection
    def tracks(self, split: str) -> list[CachedTrack]:
        if split not in self._tracks:
            self.prepare([split])
            manifest = self._read_manifest()
            entries = manifest["splits"].get(split, {})
            self._tracks[split] = [
                CachedTrack(name, self.root / split / name, entry, self.sample_rate,
                            self.channels) for name, entry in sorted(entries.items())]
            # Lyrics annotations are read from the source, not cached.
            lines = {t.name: t.lines for t in self.collection.tracks(split)}
            for track in self._tracks[split]:
                track.lines = lines.get(track.name)
            if not self._tracks[split]:
                raise DataError(f"{self.root}: no usable {split} track to cache")
        return self._tracks[split]

    def unusable(self, split: str) -> dict[str, str]:
        self.tracks(split)
        return {**self.collection.unusable(split), **self._unusable.get(split, {})}

    def identity(self) -> dict:
        return {"cache_of": self.collection.identity(), "sample_rate": self.sample_rate,
                "channels": self.channels, "dtype": self.dtype}


def describe_footprint(footprint: dict) -> str:
    total = sum(size for _, size in footprint.values())
    parts = ", ".join(f"{split} {count} tracks {size / 2**20:.1f} MiB"
                      for split, (count, size) in footprint.items())
    return f"{parts}; {total / 2**20:.1f} MiB in all"


__all__ = ["CachedCollection", "CachedTrack", "default_cache_dir", "quantisation_error_db",
           "SPLITS"]
