"""Inference: whole-track, streamed and file-to-stem-files separation with a trained generator.
Every entry point (``gansep separate``, evaluation, the validation callback, export, align and
transcribe) goes through these functions.

    import gansep
    from gansep.separate import separate_file
    separate_file(gansep.load_separator("export/"), "song.flac", "out/song")  # vocals.wav ...
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import ExitStack
from math import ceil, gcd
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gansep.atomic import atomic_target
from gansep.data.audio import (ENCODED, FFMPEG_EXTENSIONS, READABLE, WRITABLE, DataError, encode,
                               fit_channels, read_audio, read_checked, resample, wav_truncation)
from gansep.names import check_plain_name

log = logging.getLogger(__name__)
# Output seconds per forward pass when separating files: long chunks amortise the valid
# convolutions' input context (M4: 131054 context samples for 16389 nominal outputs).
CHUNK_SECONDS = 10.0


@torch.no_grad()
def separate(generator, mixture: torch.Tensor, batch_size: int = 4,
             chunk_length: int | None = None, progress: bool = False,
             frames: bool = False, overlap: float = 0.25, report=None):
    """Separates a whole track in chunks planned by the generator's
    [`chunking`][gansep.models.generator.Generator.chunking]: stitched exactly for Wave-U-Net,
    cross-faded (overlap-add with linear ramps summing to one) for context-free generators.

    Args:
        generator: a [`Generator`][gansep.models.generator.Generator].
        mixture: ``(channels, time)`` at the generator's rate, on the generator's device.
        batch_size: chunks per forward pass (bounds memory together with ``chunk_length``).
        chunk_length: output samples per chunk (default: the generator's nominal length).
        progress: show a progress bar.
        overlap: the cross-fade's share of a chunk (context-free generators only).
        frames: also return the frames of the generator's auxiliary head (a generator with
            one, see [`has_frames`][gansep.models.generator.has_frames]), from the same
            passes: each chunk gives the frames inside its output span, so every frame of
            the track comes once.
        report: called after each forward pass with the share of the track it completed
            (a caller's progress bar).

    Returns:
        ``(sources, channels, time)`` estimates, same length as ``mixture``; with
        ``frames``, ``(estimates, frames (frames, features), times (frames,))``, times in
        seconds from the track's start.
    """
    if mixture.dim() != 2:
        raise ValueError(f"separate expects a (channels, time) mixture, got {tuple(mixture.shape)}")
    plan = generator.chunking(chunk_length, overlap)
    time = mixture.shape[-1]
    chunks = max(1, -(-max(time - plan.keep_length, 0) // plan.step) + 1)
    padded_length = (chunks - 1) * plan.step + plan.input_length
    padded = F.pad(mixture, (plan.pad_left, padded_length - time - plan.pad_left))
    windows = padded.unfold(-1, plan.input_length, plan.step).transpose(0, 1)  # (chunks, C, in)
    out = mixture.new_zeros((len(generator.sources), mixture.shape[0],
                             (chunks - 1) * plan.step + plan.keep_length))
    weights = plan.windows(chunks).to(mixture.device, mixture.dtype)
    bar = tqdm(total=chunks, desc="separating", unit="chunk", disable=not progress, leave=False)
    kept, times = [], []
    if frames:
        rate = generator.sample_rate
        # Frame times relative to the track sample each chunk's kept output starts at.
        relative = generator.frame_times(plan.input_length).double() - plan.keep_start / rate
        keep = (relative >= 0) & (relative < plan.step / rate)
    for first in range(0, chunks, batch_size):
        batch = windows[first : first + batch_size]
        if frames:
            estimate, side = generator.separate_with_frames(batch)
            for i in range(len(batch)):
                kept.append(side[i, keep])
                times.append((first + i) * plan.step / rate + relative[keep])
        else:
            estimate = generator(batch)
        estimate = estimate[..., plan.keep_start : plan.keep_start + plan.keep_length]
        for i in range(len(batch)):  # overlap-add; without a cross-fade, plain stitching
            start = (first + i) * plan.step
            out[..., start : start + plan.keep_length] += (
                estimate[i] * weights[first + i].to(estimate.dtype))
        bar.update(len(batch))
        if report is not None:
            report(len(batch) / chunks)
    bar.close()
    if not frames:
        return out[..., :time]
    times = torch.cat(times)
    inside = times < time / rate
    return out[..., :time], torch.cat(kept)[inside.to(kept[0].device)], times[inside]


#: More channels than this is taken for time: no layout of audio gansep reads has more.
MAX_CHANNELS = 16


def channels_first(audio: np.ndarray) -> tuple[np.ndarray, bool]:
    """A 2-D array as ``(channels, time)``, and whether it was given as ``(time, channels)``
    (soundfile's layout): decided by which axis is short enough to be channels (at most
    `MAX_CHANNELS`) while the other is not; ValueError with a hint when both or neither are."""
    rows, columns = audio.shape
    if rows <= MAX_CHANNELS < columns:
        return audio, False
    if columns <= MAX_CHANNELS < rows:
        log.info("audio of shape %s taken as (time, channels): %d channel(s); the estimates "
                 "keep that layout", audio.shape, columns)
        return audio.T, True
    raise ValueError(f"audio of shape {audio.shape} is ambiguous: expected (channels, time) "
                     f"with at most {MAX_CHANNELS} channels, or (time, channels) as soundfile "
                     "reads it (pass waveform.T if it is (time, channels))")


def to_model_input(generator, audio, rate: int):
    """``(channels, time)`` numpy audio at ``rate`` resampled to the generator's rate and
    mapped to its channel count."""
    return fit_channels(resample(audio, rate, generator.sample_rate), generator.channels)


def separate_file_audio(generator, mixture, rate: int, batch_size: int = 4,
                        progress: bool = False, chunk_length: int | None = None,
                        frames: bool = False, overlap: float = 0.25, report=None):
    """Separates ``(channels, time)`` numpy audio at any ``rate``: resampled to the model's rate
    and channel count, separated, and mapped back. Returns ``(sources, channels, time)`` float32
    numpy at ``rate`` with the input's channels and length. With ``frames``, also the
    auxiliary head's ``(frames, times)`` (see [`separate`][]; times in seconds, which no
    resampling changes)."""
    model_input = to_model_input(generator, mixture, rate)
    device = next(generator.parameters()).device
    separated = separate(generator, torch.from_numpy(model_input).to(device), batch_size,
                         chunk_length, progress, frames, overlap, report)
    estimate = (separated[0] if frames else separated).float().cpu().numpy()
    estimate = fit_channels(resample(estimate, generator.sample_rate, rate), mixture.shape[0])
    time = mixture.shape[-1]
    if estimate.shape[-1] < time:
        estimate = F.pad(torch.from_numpy(estimate), (0, time - estimate.shape[-1])).numpy()
    if frames:
        return estimate[..., :time], separated[1].float().cpu(), separated[2]
    return estimate[..., :time]


def stream_segments(generator, num_frames: int, rate: int, segment_seconds: float = 60.0,
                    chunk_length: int | None = None, overlap: float = 0.25):
    """Plans the separation of a long file in segments: yields ``(read_start, read_stop,
    keep_start, keep_stop)`` at the file's rate. Each segment is read with a margin on both
    sides (inside the file) that covers the chunks' reach (the network's input context, or a
    whole cross-faded chunk) and the resampling filter, and starts on a file sample that maps
    to a multiple of the chunking's alignment at the model's rate, so the kept part equals what
    separating the whole file at once gives (memory then depends on the segment length, not
    the file's)."""
    plan = generator.chunking(chunk_length, overlap)
    factor = gcd(int(rate), int(generator.sample_rate))
    up, down = generator.sample_rate // factor, rate // factor
    unit = down * plan.alignment // gcd(up, plan.alignment)  # file samples per aligned step
    reach = plan.reach * down / up  # in file samples
    resampling = 10 * max(up, down) / up + 2
    margin = -(-int(ceil(reach + resampling)) // unit) * unit
    segment = max(unit, int(segment_seconds * rate) // unit * unit)
    for start in range(0, max(num_frames, 1), segment):
        stop = min(num_frames, start + segment)
        yield max(0, start - margin), min(num_frames, stop + margin), start, stop


def separate_stream(generator, read, num_frames: int, rate: int, write,
                    segment_seconds: float = 60.0, batch_size: int = 1,
                    chunk_length: int | None = None, progress: bool = False,
                    overlap: float = 0.25) -> None:
    """Separates a long file segment by segment (see [`stream_segments`][]):
    ``read(start, stop)`` returns ``(channels, stop - start)`` audio at ``rate``,
    ``write(estimates)`` receives consecutive ``(sources, channels, time)`` pieces."""
    plan = list(stream_segments(generator, num_frames, rate, segment_seconds, chunk_length,
                                overlap))
    # Seconds of audio, moved after every forward pass (not once per segment).
    bar = tqdm(total=round(num_frames / rate, 1), desc=progress if isinstance(progress, str)
               else "separating", unit="s", disable=not progress, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio "
                          "[{elapsed}<{remaining}]")
    for read_start, read_stop, keep_start, keep_stop in plan:
        kept_seconds = (keep_stop - keep_start) / rate

        def advance(share: float) -> None:  # this segment's passes, in seconds it keeps
            bar.update(share * kept_seconds)
        estimates = separate_file_audio(generator, read(read_start, read_stop), rate,
                                        batch_size, chunk_length=chunk_length, overlap=overlap,
                                        report=advance)
        write(estimates[..., keep_start - read_start : keep_stop - read_start])
    bar.close()


def open_input(path: Path):
    """``(read(start, stop), frames, rate, channels)``: soundfile reads segments of the file on
    demand (each checked by [`read_checked`][]); formats only ffmpeg reads
    are decoded whole."""
    path = Path(path)
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        audio, rate = read_audio(path)
        return (lambda a, b: audio[:, a:b]), audio.shape[-1], rate, audio.shape[0]
    try:
        info = sf.info(str(path))
    except Exception as error:
        raise DataError(f"{path}: cannot read audio ({error})") from None
    return (lambda a, b: read_checked(path, a, b)[0]), info.frames, info.samplerate, info.channels


def separate_file(separator, path: str | Path, folder: str | Path, format: str = "wav",
                  subtype: str = "PCM_16", batch_size: int = 1,
                  chunk_seconds: float = CHUNK_SECONDS, segment_seconds: float = 60.0,
                  precision: str = "fp32", progress: bool | str = False,
                  overlap: float = 0.25, bitrate: str | None = None) -> list[Path]:
    """Separates the audio file ``path`` (any `READABLE` format) with
    ``separator`` (an [`ExportedSeparator`][gansep.export.ExportedSeparator], or a generator) into
    ``folder/<source>.<format>`` at the file's rate and channel count, ``segment_seconds`` at a
    time so that memory does not grow with the file; each output appears (atomically) once
    complete. ``format`` is one of `WRITABLE`: ``wav`` and ``flac`` are written by soundfile
    in ``subtype``; ``mp3`` and ``ogg`` (Vorbis) are encoded from a float WAV by ffmpeg at
    ``bitrate`` (e.g. ``192k``; default 320k and 256k). ``precision="bf16"`` runs the network
    under bfloat16 autocast; ``overlap`` is the cross-fade of generators without input context
    (see [`separate`][]); ``progress`` shows a bar over seconds of audio (a string: its
    label). Returns the files written."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    if format not in WRITABLE:
        raise ValueError(f"format must be one of {', '.join(WRITABLE)}, got {format!r}")
    path, folder = Path(path), Path(folder)
    generator = getattr(separator, "generator", separator)
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
    outputs = [folder / f"{check_plain_name(source, 'source name')}.{format}"
               for source in generator.sources]
    encoded = format in ENCODED
    try:
        with ExitStack() as stack:
            writers, finals = [], []
            for output in outputs:
                tmp = stack.enter_context(atomic_target(output))
                finals.append(tmp)
                if encoded:  # a float WAV beside it (hidden, removed), encoded once complete
                    handle, tmp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=".wav",
                                                   dir=output.parent)
                    os.close(handle)
                    stack.callback(Path(tmp).unlink, missing_ok=True)
                writers.append(stack.enter_context(sf.SoundFile(
                    tmp, "w", samplerate=rate, channels=channels,
                    subtype="FLOAT" if encoded else subtype,
                    format="WAV" if encoded else format.upper())))

            def write(estimates: np.ndarray) -> None:
                for writer, estimate in zip(writers, estimates):
                    writer.write(estimate.T)
            with torch.inference_mode(), torch.autocast(
                    next(generator.parameters()).device.type, torch.bfloat16,
                    enabled=precision == "bf16"):
                separate_stream(generator, read, frames, rate, write, segment_seconds,
                                batch_size, int(chunk_seconds * generator.sample_rate),
                                progress=progress, overlap=overlap)
            for writer in writers:
                writer.close()  # before the rename
            if encoded:
                for writer, final in zip(writers, finals):
                    encode(writer.name, final, format, bitrate)
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # leave no empty folder behind a failed input
        raise
    return outputs


def audio_files_in(folder: Path) -> list[Path]:
    """The audio files (any `READABLE` format) directly in ``folder``: in an output folder of
    [`separate_file`][], the stems of an earlier run, whichever model wrote them."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in READABLE)


def _dataset_tracks(folder: Path) -> list[tuple[Path, str]]:
    """The tracks of a dataset below ``folder``: each ``<track>/mixture.<ext>`` (a stems
    folder, MUSDB18-HQ) named by its folder, and each ``<track>.stem.mp4`` (MUSDB18, whose
    first stream is the mixture) named by its file; none where ``folder`` holds neither."""
    mixtures = sorted(p for p in folder.rglob("mixture.*") if p.is_file()
                      and p.suffix.lower() in READABLE and not p.name.startswith("."))
    stems = sorted(p for p in folder.rglob("*.stem.mp4") if p.is_file())
    return [(p, p.parent.name) for p in mixtures] + [(p, p.name[: -len(".stem.mp4")])
                                                     for p in stems]


def audio_inputs(inputs: list[Path]) -> tuple[list[tuple[Path, str]], list[str]]:
    """``(file, track name)`` of each input to separate, and the problems found. A file is
    named by its stem; a folder that holds a dataset (`_dataset_tracks`: a stems folder,
    a MUSDB18 or MUSDB18-HQ root or split) gives each track's mixture, named by the track, and
    never a stem; any other folder gives its audio files (recursively)."""
    files, problems = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            tracks = _dataset_tracks(item)
            if not tracks:
                tracks = [(p, p.stem) for p in sorted(item.rglob("*")) if p.is_file()
                          and p.suffix.lower() in READABLE and not p.name.startswith(".")]
            if not tracks:
                problems.append(f"{item}: folder holds no audio files ({', '.join(READABLE)})")
            files.extend(tracks)
        elif item.is_file():
            files.append((item, item.name[: -len(".stem.mp4")] if item.name.endswith(".stem.mp4")
                          else item.stem))
        else:
            problems.append(f"{item}: no such file or folder")
    return files, problems
