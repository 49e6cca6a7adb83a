"""``gansep transcribe --model DIR AUDIO...``: the lyrics an exported multi-task separator's
head hears. Arguments only; the work is [`gansep.eval.transcribe.transcribe`][]."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


from gansep.cli.options import device, in_range
from gansep.data.audio import DataError, read_checked
from gansep.errors import ConfigError
from gansep.eval.transcribe import transcribe
from gansep.export import load_separator
from gansep.models.generator import has_frames

log = logging.getLogger("gansep")
MAX_BEAM = 256  # a wider beam finds nothing a 256-wide one misses on a 30-class vocabulary


def load_lyrics_separator(model: Path, device_name: str, purpose: str):
    """An exported separator with a lyrics head; ConfigError naming the folder otherwise."""
    separator = load_separator(model, device_name)
    if not has_frames(separator.generator) or not hasattr(separator.generator, "vocabulary"):
        raise ConfigError(f"{model}: this separator has no lyrics head (train a "
                          f"gansep.models.LyricsWaveUNet to {purpose})")
    return separator


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep transcribe", description=(
        "Transcribe the lyrics of audio files with an exported separator that has a lyrics "
        "head (gansep.models.LyricsWaveUNet). Prints 'FILE: text'; with --words, one "
        "'word,start,end' line per word (seconds) after it."))
    parser.add_argument("audio", type=Path, nargs="+", help="audio files")
    parser.add_argument("--model", type=Path, required=True, help="export folder")
    parser.add_argument("--words", action="store_true", help="also print word timings")
    parser.add_argument("--beam", type=in_range(int, 0, MAX_BEAM,
                                                what=f"a beam width from 0 to {MAX_BEAM}"),
                        default=0, help=f"prefix beam-search width, 0 to {MAX_BEAM} (0: greedy "
                                        "decoding; the time grows with the width)")
    parser.add_argument("--device", type=device, default="cpu")
    args = parser.parse_args(argv)

    separator = load_lyrics_separator(args.model, args.device, "transcribe")
    failed = 0
    for path in args.audio:
        try:
            audio, rate = read_checked(path, truncated="warn")
            result = transcribe(separator, audio, rate, args.beam)
        except (DataError, ValueError) as error:  # ValueError: channels the model cannot take
            log.error("%s", error if str(path) in str(error) else f"{path}: {error}")
            failed += 1
            continue
        print(f"{path}: {result['text']}")
        if args.words:
            for word, start, end in result["words"]:
                print(f"{word},{start:.3f},{end:.3f}")
    return 1 if failed else 0
