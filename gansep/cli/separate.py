"""``gansep export`` (a checkpoint's generator as a shareable separator folder) and
``gansep separate`` (apply one to audio files)."""

from __future__ import annotations

import argparse
import logging
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from gansep.cli.options import (device, distinct_paths, in_range, positive_int,
                                 writable_folder)
from gansep.data.audio import AUDIO_EXTENSIONS, DataError, read_audio, wav_truncation
from gansep.errors import ConfigError

log = logging.getLogger(__name__)
# Shorter chunks or segments only multiply the passes (each pays the network's context);
# longer ones only multiply the memory.
CHUNK_RANGE = (0.1, 600.0)
SEGMENT_RANGE = (0.1, 3600.0)

FFMPEG_EXTENSIONS = (".mp4", ".m4a", ".aac", ".opus", ".webm")
READABLE = AUDIO_EXTENSIONS + (".mp3",) + FFMPEG_EXTENSIONS


def export_main(argv: list[str]) -> int:
    from gansep.export import (CONFIG, ONNX, TORCHSCRIPT, VOCABULARY, WEIGHTS,
                               export_separator)

    parser = argparse.ArgumentParser(prog="gansep export", description=(
        "Write a checkpoint's generator as safetensors + JSON + TorchScript (+ ONNX)."))
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="export folder")
    parser.add_argument("--no-ema", action="store_true", help="raw weights, not the EMA copy")
    parser.add_argument("--onnx", action="store_true",
                        help="also write ONNX (needs the onnx package: gansep[onnx])")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier export in --out")
    args = parser.parse_args(argv)
    writable_folder(args.out)
    distinct_paths([("checkpoint", args.checkpoint)], folders=[("--out", args.out)])
    earlier = [args.out / name for name in (WEIGHTS, CONFIG, TORCHSCRIPT, ONNX, VOCABULARY)
               if (args.out / name).exists()]
    if earlier and not args.overwrite:
        raise ConfigError(f"--out {args.out}: holds an earlier export ({earlier[0].name}); "
                          "nothing written: pass --overwrite to replace it, or choose another "
                          "--out")
    config = export_separator(args.checkpoint, args.out, ema=not args.no_ema, onnx=args.onnx)
    log.info("exported %s (%s weights, step %s, sources %s) to %s: %s", args.checkpoint,
             config["weights"], config["step"], ", ".join(config["sources"]), args.out,
             ", ".join(config["files"].values()))
    return 0


def read_any(path: Path) -> tuple[np.ndarray, int]:
    """``(channels, time)`` float32 and rate: soundfile, or ffmpeg for what it does not read."""
    if path.suffix.lower() not in FFMPEG_EXTENSIONS:
        return read_audio(path)
    try:
        probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0",
                                "-show_entries", "stream=sample_rate,channels", "-of",
                                "csv=p=0", str(path)], capture_output=True, text=True, check=True)
        rate, channels = (int(v) for v in probe.stdout.strip().split(",")[:2])
        decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0",
                                  "-f", "f32le", "-"], capture_output=True, check=True)
    except FileNotFoundError:
        raise DataError(f"{path}: reading {path.suffix} needs ffmpeg on PATH") from None
    except (subprocess.CalledProcessError, ValueError) as error:
        message = getattr(error, "stderr", "") or error
        raise DataError(f"{path}: ffmpeg cannot decode it ({str(message).strip()[:200]})") from None
    audio = np.frombuffer(decoded.stdout, dtype=np.float32).reshape(-1, channels).T
    return np.ascontiguousarray(audio), rate


def read_checked(path: Path) -> tuple[np.ndarray, int]:
    """:func:`read_any`, refusing empty audio and NaN or infinite samples (DataError naming
    the file)."""
    audio, rate = read_any(path)
    truncated = wav_truncation(path)
    if truncated:  # as separate says it: the part that is there is used
        log.warning("warning: %s; using the part that is there", truncated)
    if audio.shape[-1] == 0:
        raise DataError(f"{path}: empty audio (0 samples)")
    if not np.isfinite(audio).all():
        raise DataError(f"{path}: audio holds NaN or infinite samples")
    return audio, rate


def open_input(path: Path):
    """``(read(start, stop), frames, rate, channels)``: soundfile reads segments of the file on
    demand; formats only ffmpeg reads are decoded whole."""
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        audio, rate = read_any(path)
        return (lambda a, b: audio[:, a:b]), audio.shape[-1], rate, audio.shape[0]
    try:
        info = sf.info(str(path))
    except Exception as error:
        raise DataError(f"{path}: cannot read audio ({error})") from None

    def read(start: int, stop: int) -> np.ndarray:
        audio, _ = read_audio(path, start, stop)
        if audio.shape[-1] != stop - start:
            raise DataError(f"{path}: truncated: frames [{start}, {stop}) asked, "
                            f"{audio.shape[-1]} read")
        if not np.isfinite(audio).all():
            raise DataError(f"{path}: audio holds NaN or infinite samples")
        return audio
    return read, info.frames, info.samplerate, info.channels


def separate_file(separator, path: Path, folder: Path, args) -> None:
    """Separates ``path`` into ``folder/<source>.<format>`` segment by segment, so memory does
    not grow with the file; the files appear (atomically) once complete."""
    read, frames, rate, channels = open_input(path)
    truncated = wav_truncation(path)
    if truncated:
        log.warning("warning: %s; separating the part that is there", truncated)
    if frames == 0:
        raise DataError(f"{path}: empty audio (0 samples)")
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder}: output path exists and is a file")
    log.info("%s: %.1f s at %d Hz, %d channel(s)", path, frames / rate, rate, channels)
    created = not folder.exists()
    try:
        _write_separation(separator, read, frames, rate, channels, folder, args)
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # leave no empty folder behind a failed input
        raise


def _write_separation(separator, read, frames, rate, channels, folder, args) -> None:
    from contextlib import ExitStack

    from gansep.atomic import atomic_target
    from gansep.eval.separate import separate_stream

    with ExitStack() as stack:
        writers = []
        for source in separator.sources:
            tmp = stack.enter_context(atomic_target(folder / f"{source}.{args.format}"))
            writers.append(stack.enter_context(sf.SoundFile(
                tmp, "w", samplerate=rate, channels=channels, subtype=args.subtype,
                format=args.format.upper())))

        def write(estimates: np.ndarray) -> None:
            for writer, estimate in zip(writers, estimates):
                writer.write(estimate.T)
        with torch.inference_mode(), torch.autocast(
                next(separator.generator.parameters()).device.type, torch.bfloat16,
                enabled=args.precision == "bf16"):
            separate_stream(separator.generator, read, frames, rate, write,
                            args.segment_seconds, args.batch_size,
                            int(args.chunk_seconds * separator.sample_rate), progress=True)
        for writer in writers:
            writer.close()  # before the rename


def collect_inputs(inputs: list[Path]) -> tuple[list[Path], list[str]]:
    """Audio files named or found (recursively) in named folders, and problems found."""
    files, problems = [], []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file()
                           and p.suffix.lower() in READABLE and not p.name.startswith("."))
            if not found:
                problems.append(f"{item}: folder holds no audio files ({', '.join(READABLE)})")
            files.extend(found)
        elif item.is_file():
            files.append(item)
        else:
            problems.append(f"{item}: no such file or folder")
    return files, problems


def distinct_outputs(files: list[Path], out: Path) -> list[Path]:
    """Each input's outputs go to ``OUT/<file name without extension>/``: inputs that share
    that name (``a/song.wav`` and ``b/song.wav``, or ``song.wav`` and ``song.mp3``) would
    overwrite each other, so they are refused before anything is written. Returns ``files``
    with repeats of the same path dropped."""
    by_name: dict[str, list[Path]] = {}
    for path in dict.fromkeys(files):  # the same file named twice is separated once
        by_name.setdefault(path.stem, []).append(path)
    clashes = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    if clashes:
        listing = "; ".join(f"{out / name}/ from {', '.join(map(str, paths))}"
                            for name, paths in clashes.items())
        raise ConfigError(f"inputs share an output folder (OUT/<file name without extension>/), "
                          f"nothing written: {listing}. Rename them or separate them into "
                          "different --out folders")
    return list(dict.fromkeys(files))


def separate_main(argv: list[str]) -> int:
    from gansep.export import CHUNK_SECONDS, load_separator

    parser = argparse.ArgumentParser(prog="gansep separate", description=(
        "Separate audio files with an exported separator: OUT/<track>/<source>.<format>."))
    parser.add_argument("inputs", nargs="+", type=Path, help="audio files or folders")
    parser.add_argument("--model", type=Path, required=True, help="folder from gansep export")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--format", choices=["wav", "flac"], default="wav")
    parser.add_argument("--subtype", default="PCM_16",
                        help="soundfile subtype: PCM_16, PCM_24, FLOAT, ...")
    parser.add_argument("--device", type=device, default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--batch-size", type=positive_int, default=1,
                        help="chunks per forward pass")
    parser.add_argument("--chunk-seconds", type=in_range(float, *CHUNK_RANGE, what=(
                            f"seconds from {CHUNK_RANGE[0]} to {CHUNK_RANGE[1]:g}")),
                        default=CHUNK_SECONDS,
                        help=f"output seconds per chunk, {CHUNK_RANGE[0]} to {CHUNK_RANGE[1]:g} "
                             "(memory grows with it)")
    parser.add_argument("--segment-seconds", type=in_range(float, *SEGMENT_RANGE, what=(
                            f"seconds from {SEGMENT_RANGE[0]:g} to {SEGMENT_RANGE[1]:g}")),
                        default=60.0,
                        help=f"seconds of audio held in memory at a time, {SEGMENT_RANGE[0]:g} "
                             f"to {SEGMENT_RANGE[1]:g} (long files)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: bfloat16 autocast, faster on CPUs with AVX512-BF16 and GPUs")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the outputs of an earlier run in --out")
    args = parser.parse_args(argv)
    if not sf.check_format(args.format.upper(), args.subtype):
        raise ConfigError(f"--subtype {args.subtype!r} cannot be written as {args.format} "
                          f"(soundfile offers {', '.join(sf.available_subtypes(args.format.upper()))})")
    writable_folder(args.out)
    files, failures = collect_inputs(args.inputs)
    files = distinct_outputs(files, args.out)
    separator = load_separator(args.model, args.device)
    outputs = {path: [args.out / path.stem / f"{source}.{args.format}"
                      for source in separator.sources] for path in files}
    distinct_paths([("audio", p) for p in [*args.inputs, *files]] + [("--model", args.model)],
                   files=[("output", f) for group in outputs.values() for f in group],
                   folders=[("output folder", args.out / p.stem) for p in files])
    earlier = [f for group in outputs.values() for f in group if f.exists()]
    if earlier and not args.overwrite:
        raise ConfigError(f"--out {args.out}: {len(earlier)} output file(s) of an earlier run "
                          f"are there (e.g. {earlier[0]}); nothing written: pass --overwrite "
                          "to replace them, or choose another --out")
    for problem in failures:
        log.error("%s", problem)
    for path in files:
        try:
            separate_file(separator, path, args.out / path.stem, args)
        except (DataError, ValueError, RuntimeError) as error:
            failures.append(str(error) if str(path) in str(error) else f"{path}: {error}")
            log.error("%s", failures[-1])
    if failures:
        log.error("%d input(s) failed:\n  %s", len(failures), "\n  ".join(failures))
        return 1
    return 0
