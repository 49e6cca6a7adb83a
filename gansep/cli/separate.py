"""``gansep separate``: apply an exported separator to audio files (see
[`gansep.separate.separate_file`][])."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import soundfile as sf

from gansep.cli.options import (device, distinct_paths, in_range, positive_int,
                                 writable_folder)
from gansep.data.audio import ENCODED, WRITABLE, DataError
from gansep.errors import ConfigError
from gansep.export import load_separator
from gansep.separate import CHUNK_SECONDS, audio_files_in, audio_inputs, separate_file

log = logging.getLogger(__name__)
# Shorter chunks or segments only multiply the passes (each pays the network's context);
# longer ones only multiply the memory.
CHUNK_RANGE = (0.1, 600.0)
SEGMENT_RANGE = (0.1, 3600.0)


def _bitrate(text: str) -> str:
    """An ffmpeg bitrate: kilobits per second with a ``k`` (``192k``), 8k to 512k."""
    import re

    match = re.fullmatch(r"(\d+)k", text.strip().lower())
    if not match or not 8 <= int(match.group(1)) <= 512:
        raise argparse.ArgumentTypeError(f"expected a bitrate such as 192k (8k to 512k), got "
                                         f"{text!r}")
    return f"{match.group(1)}k"


def distinct_outputs(files: list[tuple[Path, str]], out: Path) -> list[tuple[Path, str]]:
    """Each input's outputs go to ``OUT/<name>/`` (a file's name without extension, a dataset
    track's name): inputs that share that name (``a/song.wav`` and ``b/song.wav``, or
    ``song.wav`` and ``song.mp3``) would overwrite each other, so they are refused before
    anything is written. Returns ``files`` with repeats of the same path dropped."""
    by_name: dict[str, list[Path]] = {}
    unique = list(dict.fromkeys(files))  # the same file named twice is separated once
    for path, name in unique:
        by_name.setdefault(name, []).append(path)
    clashes = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    if clashes:
        listing = "; ".join(f"{out / name}/ from {', '.join(map(str, paths))}"
                            for name, paths in clashes.items())
        raise ConfigError(f"inputs share an output folder (OUT/<file name without extension>/), "
                          f"nothing written: {listing}. Rename them or separate them into "
                          "different --out folders")
    return unique


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep separate", description=(
        "Separate audio files, or every track of a dataset (a stems folder or a MUSDB18 root: "
        "each track's mixture, never its stems), with an exported separator: "
        "OUT/<track>/<source>.<format>."))
    parser.add_argument("inputs", nargs="+", type=Path,
                        help="audio files, folders of them, or dataset folders")
    parser.add_argument("--model", type=Path, required=True, help="folder from gansep export")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--format", choices=WRITABLE, default="wav",
                        help="wav and flac (soundfile, --subtype), mp3 and ogg (ffmpeg, "
                             "--bitrate)")
    parser.add_argument("--subtype", default="PCM_16",
                        help="wav/flac: soundfile subtype: PCM_16, PCM_24, FLOAT, ...")
    parser.add_argument("--bitrate", type=_bitrate, default=None,
                        help="mp3/ogg: bitrate, e.g. 192k (default: mp3 320k, ogg 256k)")
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
    parser.add_argument("--overlap", type=in_range(float, 0.0, 0.9, what="a share from 0 to 0.9"),
                        default=0.25,
                        help="cross-fade between chunks, as a share of a chunk (generators "
                             "without input context: HT Demucs, the RoFormers; Wave-U-Net's "
                             "chunks join exactly)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="bf16: bfloat16 autocast, faster on CPUs with AVX512-BF16 and GPUs")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the outputs of an earlier run in --out")
    args = parser.parse_args(argv)
    if args.bitrate is not None and args.format not in ENCODED:
        raise ConfigError(f"--bitrate applies to {' and '.join(ENCODED)}, not --format "
                          f"{args.format} (its --subtype sets the sample format)")
    if args.format not in ENCODED and not sf.check_format(args.format.upper(), args.subtype):
        raise ConfigError(f"--subtype {args.subtype!r} cannot be written as {args.format} "
                          f"(soundfile offers {', '.join(sf.available_subtypes(args.format.upper()))})")
    writable_folder(args.out)
    files, failures = audio_inputs(args.inputs)
    files = distinct_outputs(files, args.out)
    separator = load_separator(args.model, args.device)
    outputs = {path: [args.out / name / f"{source}.{args.format}"
                      for source in separator.sources] for path, name in files}
    distinct_paths([("audio", p) for p in [*args.inputs, *(path for path, _ in files)]]
                   + [("--model", args.model)],
                   files=[("output", f) for group in outputs.values() for f in group],
                   folders=[("output folder", args.out / name) for _, name in files])
    # An earlier run's stems are every audio file in a track's output folder, whichever model
    # (other sources) or --format wrote them: replaced as a whole, never mixed with new ones.
    earlier = {path: audio_files_in(args.out / name) for path, name in files}
    found = [f for group in earlier.values() for f in group]
    if found and not args.overwrite:
        raise ConfigError(f"--out {args.out}: {len(found)} output file(s) of an earlier run "
                          f"are there (e.g. {found[0]}); nothing written: pass --overwrite "
                          "to replace them, or choose another --out")
    for problem in failures:
        log.error("%s", problem)
    done, unreadable = 0, len(failures)  # inputs that named no audio count as failed
    for index, (path, name) in enumerate(files, 1):
        try:
            written = separate_file(separator, path, args.out / name, args.format,
                                    args.subtype, args.batch_size, args.chunk_seconds,
                                    args.segment_seconds, args.precision,
                                    progress=f"{index}/{len(files)} {name}",
                                    overlap=args.overlap, bitrate=args.bitrate)
        except (DataError, ValueError, RuntimeError) as error:
            failures.append(str(error) if str(path) in str(error) else f"{path}: {error}")
            log.error("%s", failures[-1])
            continue
        done += 1
        stale = [f for f in earlier[path] if f not in written]
        for file in stale:  # the earlier run's stems this model does not write
            file.unlink()
        if stale:
            log.info("%s: replaced the earlier run's output (removed %s)", args.out / name,
                     ", ".join(f.name for f in stale))
    # The report, on stdout: where the files went.
    print(f"separated {done} of {len(files) + unreadable} input(s) into "
          f"{args.out}/<track>/<source>.{args.format}")
    if failures:
        log.error("%d input(s) failed:\n  %s", len(failures), "\n  ".join(failures))
        return 1
    return 0
