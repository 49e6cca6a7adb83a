"""Whole-track separation with a fixed-size generator: one function every entry point calls."""

from __future__ import annotations

from math import ceil, gcd

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm


def chunking(generator, chunk_length: int | None = None) -> tuple[int, int, int]:
    """``(input_length, context_left, step)`` of the chunks :func:`separate` cuts.

    With context (valid convolutions) consecutive chunks advance by ``step``, a multiple of
    ``2**levels``: the network is shift-equivariant for such shifts, so chunked output equals
    one forward pass over the whole (zero-padded) track. Without context (same padding) chunks
    overlap by a margin of ``2**levels``-aligned samples on each side that is discarded.
    """
    block = 2**generator.levels
    wanted = max(chunk_length or generator.geometry.output_length, block)
    geometry = generator.geometry_for(wanted)
    if generator.context:
        return geometry.input_length, geometry.context_left, geometry.output_length // block * block
    margin = max(block, geometry.input_length // 4 // block * block)
    return geometry.input_length + 2 * margin, margin, geometry.input_length


@torch.no_grad()
def separate(generator, mixture: torch.Tensor, batch_size: int = 4,
             chunk_length: int | None = None, progress: bool = False,
             transcribe: bool = False):
    """Separates a whole track.

    Args:
        generator: a Wave-U-Net (anything with its geometry interface).
        mixture: ``(channels, time)`` at the generator's rate, on the generator's device.
        batch_size: chunks per forward pass (bounds memory together with ``chunk_length``).
        chunk_length: output samples per chunk (default: the generator's nominal length).
        progress: show a progress bar.
        transcribe: also return the lyrics head's frames (a generator with one:
            :class:`~gansep.models.LyricsWaveUNet`), from the same passes: each chunk gives
            the frames inside its output span, so every frame of the track comes once.

    Returns:
        ``(sources, channels, time)`` estimates, same length as ``mixture``; with
        ``transcribe``, ``(estimates, log_probs (frames, classes), times (frames,))``, times
        in seconds from the track's start.
    """
    if mixture.dim() != 2:
        raise ValueError(f"separate expects a (channels, time) mixture, got {tuple(mixture.shape)}")
    input_length, left, step = chunking(generator, chunk_length)
    time = mixture.shape[-1]
    chunks = max(1, -(-time // step))
    padded_length = (chunks - 1) * step + input_length
    padded = F.pad(mixture, (left, padded_length - time - left))
    windows = padded.unfold(-1, input_length, step).transpose(0, 1)  # (chunks, channels, input)
    out = mixture.new_empty((len(generator.sources), mixture.shape[0], chunks * step))
    bar = tqdm(total=chunks, desc="separating", unit="chunk", disable=not progress, leave=False)
    frames, times = [], []
    if transcribe:
        rate = generator.sample_rate
        # Frame times relative to the track sample each chunk's kept output starts at.
        relative = generator.frame_times(input_length).double() - (
            0.0 if generator.context else left / rate)
        keep = (relative >= 0) & (relative < step / rate)
    for first in range(0, chunks, batch_size):
        batch = windows[first : first + batch_size]
        if transcribe:
            estimate, log_probs = generator.separate_and_transcribe(batch)
            for i in range(len(batch)):
                frames.append(log_probs[i, keep])
                times.append((first + i) * step / rate + relative[keep])
        else:
            estimate = generator(batch)
        if not generator.context:
            estimate = estimate[..., left : left + step]
        estimate = estimate[..., :step]  # (batch, sources, channels, step)
        out[..., first * step : (first + len(batch)) * step] = (
            estimate.permute(1, 2, 0, 3).reshape(out.shape[0], out.shape[1], -1))
        bar.update(len(batch))
    bar.close()
    if not transcribe:
        return out[..., :time]
    times = torch.cat(times)
    inside = times < time / rate
    return out[..., :time], torch.cat(frames)[inside.to(frames[0].device)], times[inside]


def to_model_input(generator, audio, rate: int):
    """``(channels, time)`` numpy audio at ``rate`` resampled to the generator's rate and
    mapped to its channel count."""
    from gansep.data.audio import resample
    from gansep.data.sampling import fit_channels

    return fit_channels(resample(audio, rate, generator.sample_rate), generator.channels)


def separate_file_audio(generator, mixture, rate: int, batch_size: int = 4,
                        progress: bool = False, chunk_length: int | None = None,
                        audible: tuple[int, int] | None = None, transcribe: bool = False):
    """Separates ``(channels, time)`` numpy audio at any ``rate``: resampled to the model's rate
    and channel count, separated, and mapped back. Returns ``(sources, channels, time)`` float32
    numpy at ``rate`` with the input's channels and length. ``audible`` ``(start, stop)``
    (samples at ``rate``) marks the real audio in a zero-padded block: outside it the model's
    input (the resampler's ringing) and its estimates are zeroed, as they implicitly are for a
    whole file. With ``transcribe``, also the lyrics head's ``(log_probs, times)`` (see
    :func:`separate`; times in seconds, which no resampling changes)."""
    from gansep.data.audio import resample
    from gansep.data.sampling import fit_channels

    model_input = to_model_input(generator, mixture, rate)
    outside = None
    if audible is not None and rate != generator.sample_rate:
        factor = gcd(int(rate), int(generator.sample_rate))
        up, down = generator.sample_rate // factor, rate // factor
        outside = (-(-audible[0] * up // down), -(-audible[1] * up // down))
        model_input[..., : outside[0]] = 0
        model_input[..., outside[1]:] = 0
    device = next(generator.parameters()).device
    separated = separate(generator, torch.from_numpy(model_input).to(device), batch_size,
                         chunk_length, progress, transcribe)
    estimate = (separated[0] if transcribe else separated).float().cpu().numpy()
    if outside is not None:
        estimate[..., : outside[0]] = 0
        estimate[..., outside[1]:] = 0
    estimate = fit_channels(resample(estimate, generator.sample_rate, rate), mixture.shape[0])
    time = mixture.shape[-1]
    if estimate.shape[-1] < time:
        estimate = F.pad(torch.from_numpy(estimate), (0, time - estimate.shape[-1])).numpy()
    if transcribe:
        return estimate[..., :time], separated[1].float().cpu(), separated[2]
    return estimate[..., :time]


def stream_segments(generator, num_frames: int, rate: int, segment_seconds: float = 60.0):
    """Plans the separation of a long file in segments: yields ``(read_start, read_stop,
    keep_start, keep_stop)`` at the file's rate. Each segment is read with a margin on both
    sides that covers the network's input context and the resampling filter, and starts on a
    sample that maps to a multiple of ``2**levels`` at the model's rate, so the kept part equals
    what separating the whole file at once gives (memory then depends on the segment length,
    not the file's)."""
    factor = gcd(int(rate), int(generator.sample_rate))
    up, down = generator.sample_rate // factor, rate // factor
    block = 2**generator.levels
    unit = down * block // gcd(up, block)  # file samples per aligned step
    g = generator.geometry
    context = max(g.context_left, g.context_right, block) * down / up  # in file samples
    resampling = 10 * max(up, down) / up + 2
    margin = -(-int(ceil(context + resampling)) // unit) * unit
    segment = max(unit, int(segment_seconds * rate) // unit * unit)
    for start in range(0, max(num_frames, 1), segment):
        stop = min(num_frames, start + segment)
        yield start - margin, stop + margin, start, stop


def separate_stream(generator, read, num_frames: int, rate: int, write,
                    segment_seconds: float = 60.0, batch_size: int = 1,
                    chunk_length: int | None = None, progress: bool = False) -> None:
    """Separates a long file segment by segment (see :func:`stream_segments`):
    ``read(start, stop)`` returns ``(channels, stop - start)`` audio at ``rate`` (zeros outside
    the file are added here), ``write(estimates)`` receives consecutive
    ``(sources, channels, time)`` pieces."""
    plan = list(stream_segments(generator, num_frames, rate, segment_seconds))
    bar = tqdm(total=num_frames, desc="separating", unit="sample", unit_scale=True,
               disable=not progress, leave=False)
    for read_start, read_stop, keep_start, keep_stop in plan:
        lo, hi = max(0, read_start), min(num_frames, read_stop)
        audio = read(lo, hi)
        audio = F.pad(torch.from_numpy(audio), (lo - read_start, read_stop - hi)).numpy()
        estimates = separate_file_audio(generator, audio, rate, batch_size,
                                        chunk_length=chunk_length,
                                        audible=(lo - read_start, hi - read_start))
        write(estimates[..., keep_start - read_start : keep_stop - read_start])
        bar.update(keep_stop - keep_start)
    bar.close()
