"""``gansep evaluate`` (separate and score a test set with a checkpoint) and ``gansep score``
(score any separator's outputs). Both write one museval-format JSON per track under
``OUT/test/`` (museval's ``EvalStore.add_eval_dir`` reads them) and an aggregate table
(``results.md``, ``results.csv``). Tracks already scored are skipped, so an interrupted run
resumes; every file is written atomically, and a track that fails is reported and skipped."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from gansep.data.audio import AUDIO_EXTENSIONS, DataError, read_audio, write_audio
from gansep.data.tracks import assemble_sources
from gansep.eval.bsseval import bss_eval
from gansep.eval.si_sdr import si_sdr
from gansep.eval.results import (aggregate_table, museval_json, read_track_scores,
                                 write_json_atomic)

log = logging.getLogger(__name__)


class TrackError(ValueError):
    """A track that cannot be scored; the message says why."""


def score_track(references: np.ndarray, estimates: np.ndarray, rate: int, sources: list[str],
                backend: str, window: float = 1.0, hop: float = 1.0) -> dict:
    """museval-format scores of one track (with each source's whole-track SI-SDR), or
    TrackError for unscorable input."""
    if references.shape[-1] < int(window * rate):
        raise TrackError(f"{references.shape[-1] / rate:.2f} s of audio is shorter than one "
                         f"{window} s evaluation frame")
    if not np.any(references):
        raise TrackError("all reference sources are silent: nothing to score")
    scores = bss_eval(references, estimates, rate, window, hop, backend=backend)
    return museval_json(scores, sources, window, hop,
                        si_sdr=[si_sdr(r, e) for r, e in zip(references, estimates)])


def score_all(jobs, out: Path) -> int:
    """Runs ``jobs`` (``(track name, function returning its scores)``), skipping tracks whose
    JSON exists, writing each result atomically, reporting failed tracks and going on; then
    writes the aggregate table. Returns 1 if any track failed, else 0."""
    failures = []
    for name, job in tqdm(list(jobs), desc="tracks", unit="track"):
        target = out / "test" / f"{name}.json"
        if target.exists():
            continue  # scored by an earlier run
        try:
            result = job()
        except (TrackError, DataError) as error:
            failures.append(f"{name}: {error}")
            log.error("%s: %s", name, error)
            continue
        write_json_atomic(target, result)
    return finish(out, failures)


def finish(out: Path, failures: list[str]) -> int:
    rows = read_track_scores(out)
    if rows:
        markdown, csv = aggregate_table(rows)
        (out / "results.md").write_text(markdown)
        (out / "results.csv").write_text(csv)
        log.info("%s", markdown)
        log.info("wrote %s and %s", out / "results.md", out / "results.csv")
    if failures:
        log.error("%d track(s) failed:\n  %s", len(failures), "\n  ".join(failures))
        return 1
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument("--backend", choices=["fast", "museval"], default="fast",
                        help="BSSEval v4 implementation (default: fast)")
    parser.add_argument("--window", type=float, default=1.0, help="frame length, seconds")
    parser.add_argument("--hop", type=float, default=1.0, help="frame hop, seconds")


# ---------------------------------------------------------------------------- evaluate
def evaluate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep evaluate", description=(
        "Separate every track of a test split with a checkpoint's generator and score it."))
    parser.add_argument("--ckpt", type=Path, required=True, help="gansep training checkpoint")
    parser.add_argument("--data", type=Path, required=True,
                        help="dataset root: a stems folder (<root>/<split>/<track>/) or MUSDB")
    parser.add_argument("--musdb", action="store_true", help="--data is MUSDB18 (musdb.DB)")
    parser.add_argument("--is-wav", action="store_true", help="MUSDB18-HQ (with --musdb)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--no-ema", action="store_true", help="raw weights, not the EMA copy")
    parser.add_argument("--write-estimates", action="store_true",
                        help="also write OUT/estimates/<track>/<source>.wav")
    parser.add_argument("--duration", type=float, help="score only the first seconds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=4, help="chunks per forward pass")
    _common(parser)
    args = parser.parse_args(argv)

    from gansep.data.folder import StemsFolder
    from gansep.data.musdb import MUSDB
    from gansep.eval.separate import separate_file_audio
    from gansep.export import CheckpointError, generator_from_checkpoint

    try:
        generator, info = generator_from_checkpoint(args.ckpt, ema=not args.no_ema)
        collection = MUSDB(args.data, args.is_wav) if args.musdb else StemsFolder(args.data)
        tracks = collection.tracks(args.split)
    except (CheckpointError, DataError) as error:
        log.error("gansep evaluate: %s", error)
        return 2
    generator.to(args.device)
    log.info("%s: %s weights at step %s; %d %s tracks", args.ckpt, info["weights"],
             info["global_step"], len(tracks), args.split)

    def job(track):
        stop = track.num_frames
        if args.duration:
            stop = min(stop, int(args.duration * track.sample_rate))
        mixture = track.read_mixture(0, stop)
        references = track.read_sources(generator.sources, 0, stop)
        with torch.inference_mode():
            estimates = separate_file_audio(generator, mixture, track.sample_rate,
                                            args.batch_size)
        if args.write_estimates:
            for source, audio in zip(generator.sources, estimates):
                write_audio(args.out / "estimates" / track.name / f"{source}.wav", audio,
                            track.sample_rate)
        return score_track(references, estimates, track.sample_rate, generator.sources,
                           args.backend, args.window, args.hop)

    return score_all(((t.name, lambda t=t: job(t)) for t in tracks), args.out)


# ------------------------------------------------------------------------------- score
def _audio_files(folder: Path) -> dict[str, Path]:
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and (
                path.suffix.lower() in AUDIO_EXTENSIONS + (".mp3", ".m4a", ".mp4")):
            files[path.stem] = path
    return files


def _read(path: Path) -> tuple[np.ndarray, int]:
    """soundfile for what it reads (wav, flac, ogg, mp3), ffmpeg through stempeg otherwise."""
    try:
        return read_audio(path)
    except DataError:
        if path.suffix.lower() not in (".m4a", ".mp4"):
            raise
    try:
        import stempeg

        audio, rate = stempeg.read_stems(str(path), stem_id=0, dtype=np.float32)
    except Exception as error:
        raise DataError(f"{path}: cannot read audio through ffmpeg ({error})") from None
    return np.ascontiguousarray(np.asarray(audio).T), int(rate)


def score_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep score", description=(
        "Score any separator's outputs: ESTIMATE_DIR/<track>/<source>.<ext> against "
        "REFERENCE_DIR/<track>/<stem>.<ext>. A source that is not a reference stem (e.g. "
        "accompaniment) is scored against the sum of the other stems."))
    parser.add_argument("references", type=Path, help="folder of track folders of stems")
    parser.add_argument("estimates", type=Path, help="folder of track folders of estimates")
    _common(parser)
    args = parser.parse_args(argv)
    for folder in (args.references, args.estimates):
        if not folder.is_dir():
            log.error("gansep score: %s is not a folder", folder)
            return 2
    track_dirs = sorted(p for p in args.estimates.iterdir() if p.is_dir())
    if not track_dirs:
        log.error("gansep score: %s holds no track folders", args.estimates)
        return 2
    jobs = ((folder.name, lambda folder=folder: _score_folder(
        folder, args.references / folder.name, args)) for folder in track_dirs)
    return score_all(jobs, args.out)


def _score_folder(estimate_dir: Path, reference_dir: Path, args) -> dict:
    if not reference_dir.is_dir():
        raise TrackError(f"no reference folder {reference_dir}")
    estimate_files = {k: v for k, v in _audio_files(estimate_dir).items() if k != "mixture"}
    if not estimate_files:
        raise TrackError(f"{estimate_dir}: no audio files")
    stems, rate = {}, None
    for name, path in _audio_files(reference_dir).items():
        if name == "mixture":
            continue
        stems[name], stem_rate = _read(path)
        if rate is not None and stem_rate != rate:
            raise DataError(f"{path}: sample rate {stem_rate} Hz differs from {rate} Hz")
        rate = stem_rate
    if not stems:
        raise TrackError(f"{reference_dir}: no reference stems")
    length = min(a.shape[-1] for a in stems.values())
    stems = {k: v[..., :length] for k, v in stems.items()}
    sources = list(estimate_files)
    references = assemble_sources(stems, sources, reference_dir.name)
    estimates = np.zeros_like(references)
    for k, source in enumerate(sources):
        audio, estimate_rate = _read(estimate_files[source])
        if estimate_rate != rate:
            raise DataError(f"{estimate_files[source]}: sample rate {estimate_rate} Hz, but "
                            f"the references have {rate} Hz")
        if audio.shape[0] != references.shape[1]:
            raise DataError(f"{estimate_files[source]}: {audio.shape[0]} channels, references "
                            f"have {references.shape[1]}")
        n = min(length, audio.shape[-1])  # museval pads or cuts estimates to the references
        estimates[k, :, :n] = audio[:, :n]
    return score_track(references, estimates, rate, sources, args.backend, args.window, args.hop)
