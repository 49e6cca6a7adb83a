"""BSSEval v4 (Liutkus, Stöter & Ito, SiSEC 2018) as ``museval.evaluate`` computes it, vectorised.

museval's v4 ("images" version, time-invariant distortion filters) computes, on the whole track,
the least-squares filters (``filters_len`` taps) that project each estimate on all references
(``C``) and on its own reference (``Cj``), then, for every frame, decomposes the estimate with
those filters applied to the frame's references and reports SDR, ISR, SIR and SAR. This module
does the same arithmetic, organised for speed:

- every lagged correlation between references and estimates from block FFTs summed in the
  frequency domain (one batched matrix product instead of one full-length inverse FFT per pair),
  a chunk of blocks at a time in reused buffers;
- one linear solve with all estimates as right-hand sides for ``C``;
- the per-frame projections as one batched matrix product per frequency bin, and their
  energies by Parseval in the frequency domain (no inverse FFT per frame).

Agreement: SDR does not depend on the filters (the decomposition's error terms add up to
estimate - reference) and equals museval's to ~1e-14 dB. ISR, SIR and SAR do, and the Gram
matrix of delayed references is often numerically singular on music (condition number 3.6e15 on
the MP3 clip of ../shared/data, whose spectrum is empty above the encoder's low-pass): the
filters are then set by rounding, in museval as here. On well-conditioned signals they agree to
~1e-13 dB; on such music they differ by up to ~0.02 dB, the size of museval's own
irreproducibility (its SIR median for that clip is 5.8258 dB here, 5.8352 dB in the figures
published with the clip). museval on the same sources in reverse order, the same figures in
exact arithmetic, differs from itself by as much: 0.0095 dB on 10 s of that clip, 0.45 dB on
a 4-source toy track whose Gram matrix has condition number 4.6e15
(``bench/bsseval_conditioning.py``, ``bench/bsseval.py``).

Frames where any reference or any estimate is silent (its channel sum is zero throughout) are
NaN for every source, as in museval.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sfft

FILTERS_LEN = 512  # museval's distortion filter length
EPS = np.finfo(float).eps


def frames_of(length: int, window: int, hop: int) -> tuple[int, int]:
    """museval's framing: ``(number of frames, frame length)``; frame ``t`` is
    ``[t * hop, t * hop + frame length)``."""
    if window < length:
        return int(np.floor((length - window + hop) / hop)), window
    return 1, length


def segment(x, start: int, out):
    """``out[..., k] = x[..., start + k]``, zero where ``start + k`` is outside ``[0, n)``;
    returns ``out``. Filling a reused buffer instead of padding the whole track keeps memory to
    one chunk and spares the page faults of gigabyte-sized temporaries. ``x`` is ``(rows, n)``
    or ``(batch, rows, n)``, numpy arrays or torch tensors alike."""
    parts = x if isinstance(x, list) else [x]
    n, length = parts[0].shape[-1], out.shape[-1]
    lo, hi = max(start, 0), min(start + length, n)
    if lo > start or hi < start + length:
        out[:] = 0
    row = 0
    for part in parts:  # rows of several signals, stacked without concatenating the tracks
        rows = part.shape[-2]
        if hi > lo:
            out[..., row : row + rows, lo - start : hi - start] = part[..., lo:hi]
        row += rows
    return out


def lagged_correlations(a: np.ndarray | list[np.ndarray], b: np.ndarray, lags: int,
                        block: int = 8192, chunk: int = 16) -> np.ndarray:
    """``r[j, i, lags - 1 + tau] = sum_t a[i, t] * b[j, t + tau]`` for ``|tau| < lags``.

    ``a`` ``(Ma, n)`` (or a list of arrays stacked by rows) and ``b`` ``(Mb, n)``; zero outside ``[0, n)``. The sum over ``t`` runs
    over blocks of ``block`` samples: each block of ``a`` is correlated circularly (FFT size
    ``size >= block + 2 (lags - 1)``, so nothing wraps) with the matching window of ``b``, and
    the products are summed over blocks before the single inverse FFT. ``chunk`` blocks are
    transformed at a time (memory: a few ``(M, chunk, size)`` buffers, whatever ``n``).
    """
    rows = sum(len(part) for part in a) if isinstance(a, list) else len(a)
    n = (a[0] if isinstance(a, list) else a).shape[-1]
    size = sfft.next_fast_len(block + 2 * (lags - 1), real=True)
    count = -(-n // block)
    chunk = min(chunk, count)
    a_part = np.empty((rows, chunk * block))
    a_blocks = np.zeros((rows, chunk, size))  # zero beyond each block's end
    b_part = np.empty((b.shape[0], (chunk - 1) * block + size))
    total = np.zeros((size // 2 + 1, b.shape[0], rows), dtype=complex)
    for first in range(0, count, chunk):
        k = min(chunk, count - first)
        segment(a, first * block, a_part)
        a_blocks[:, :k, :block] = a_part.reshape(rows, chunk, block)[:, :k]
        segment(b, first * block - (lags - 1), b_part)
        b_windows = sliding_window_view(b_part, size, axis=1)[:, ::block][:, :k]
        fa = sfft.rfft(a_blocks[:, :k], axis=-1, workers=-1)
        fb = sfft.rfft(b_windows, axis=-1, workers=-1)
        # (bins, Mb, blocks) @ (bins, blocks, Ma): sum over blocks of fb * conj(fa).
        total += np.matmul(fb.transpose(2, 0, 1), fa.conj().transpose(2, 1, 0))
    r = sfft.irfft(total, n=size, axis=0, workers=-1)[: 2 * lags - 1]
    return r.transpose(1, 2, 0)


def _toeplitz_blocks(r: np.ndarray, lags: int) -> np.ndarray:
    """museval's Gram matrix of delayed references, rows ``(signal, p)``, columns
    ``(signal, q)``: ``G[(b, p), (a, q)] = r[b, a, q - p]``."""
    p = np.arange(lags)
    index = p[None, :] - p[:, None] + lags - 1  # [p, q] -> q - p
    g = r[:, :, index]  # (Mb, Ma, L, L)
    m = r.shape[0]
    return g.transpose(0, 2, 1, 3).reshape(m * lags, m * lags)


def _solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """museval's filter solve: ``(G + eps I) x = d``, least squares on G where that is
    singular (for example a reference whose two channels are identical)."""
    try:
        return np.linalg.solve(gram + EPS * np.eye(len(gram)), rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(gram, rhs)[0]


def parseval_weights(size: int) -> np.ndarray:
    """Weights ``w`` with ``sum(x ** 2) == sum(w * |rfft(x, size)| ** 2)`` for real ``x`` of
    ``size`` samples."""
    weights = np.full(size // 2 + 1, 2.0 / size)
    weights[0] = 1.0 / size
    if size % 2 == 0:
        weights[-1] = 1.0 / size
    return weights


def _as_bin_matrices(f: np.ndarray) -> np.ndarray:
    """Filter spectra ``(j, cj, bins, e, c)`` as contiguous ``(bins, (j, cj), (e, c))``."""
    j, cj, bins, e, c = f.shape
    return np.ascontiguousarray(f.transpose(2, 0, 1, 3, 4).reshape(bins, j * cj, e * c))


def _db(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """10 log10(num / den), +inf where den == 0 (museval's _safe_db)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10 * np.log10(num / den)
    return np.where(den == 0, np.inf, out)


def bss_eval_v4(references: np.ndarray, estimates: np.ndarray, window: int, hop: int,
                filters_len: int = FILTERS_LEN, frame_chunk: int = 8) -> dict[str, np.ndarray]:
    """Framewise SDR, ISR, SIR, SAR of ``estimates`` against ``references``.

    Args:
        references, estimates: ``(sources, channels, time)``; estimates are zero-padded or cut
            to the references' length, as museval does.
        window, hop: frame length and hop in samples.
        filters_len: taps of the distortion filters (museval: 512).
        frame_chunk: frames projected at once (bounds memory).

    Returns:
        ``{"SDR", "ISR", "SIR", "SAR"}``, each ``(sources, frames)``.
    """
    references = np.asarray(references, dtype=np.float64)
    estimates = np.asarray(estimates, dtype=np.float64)
    nsrc, nchan, n = references.shape
    if estimates.shape[-1] != n:
        fixed = np.zeros_like(references)
        fixed[..., : min(n, estimates.shape[-1])] = estimates[..., :n]
        estimates = fixed
    L = filters_len
    m = nsrc * nchan
    refs, ests = references.reshape(m, n), estimates.reshape(m, n)

    # Whole-track correlations: references with references (Gram matrix), and references with
    # estimates (right-hand sides): rhs[(j, cj, l), (e, c)] = sum_t ref[j, cj, t - l] est[e, c, t].
    r = lagged_correlations([refs, ests], refs, L)  # (m, 2m, 2L-1)
    gram = _toeplitz_blocks(r[:, :m], L)
    rhs = r[:, m:, L - 1 :: -1].transpose(0, 2, 1).reshape(m * L, m)
    # Filters projecting every estimate on all references, one solve for all.
    c_all = _solve(gram, rhs).reshape(nsrc, nchan, L, nsrc, nchan)
    # Filters projecting estimate j on its own reference j.
    c_own = np.empty((nsrc, nchan, L, nchan))
    for j in range(nsrc):
        rows = slice(j * nchan * L, (j + 1) * nchan * L)
        own_rhs = rhs[rows, j * nchan : (j + 1) * nchan]
        c_own[j] = _solve(gram[rows, rows], own_rhs).reshape(nchan, L, nchan)

    frames, width = frames_of(n, window, hop)
    step = hop if frames > 1 else width
    ref_frames = sliding_window_view(references, width, axis=-1)[..., ::step, :][..., :frames, :]
    est_frames = sliding_window_view(estimates, width, axis=-1)[..., ::step, :][..., :frames, :]
    size = sfft.next_fast_len(width + L - 1, real=True)
    # Filters in the frequency domain as (bins, (j, cj), (e, c)) matrices: a frame's
    # projections are then one batched matrix product of its references' spectra.
    f_all = _as_bin_matrices(sfft.rfft(c_all, n=size, axis=2))
    own = np.zeros_like(c_all)
    for e in range(nsrc):
        own[e, :, :, e] = c_own[e]
    f_own = _as_bin_matrices(sfft.rfft(own, n=size, axis=2))
    weights = parseval_weights(size)

    def energy(x):  # contiguous (bins, frames, (e, c)) spectra -> (sources, frames) energies
        power = np.square(x.view(np.float64)).reshape(len(x), -1)  # real, imaginary parts
        return (weights @ power).reshape(x.shape[1], nsrc, -1).sum(-1).T

    def spectra(x):  # (e, c, frames, width) -> (bins, frames, (e, c)), zero-padded to size
        f = sfft.rfft(x, n=size, axis=-1, workers=-1)
        return np.ascontiguousarray(f.reshape(m, f.shape[2], f.shape[3]).transpose(2, 1, 0))

    # Silence as museval tests it: a source whose channel sum is zero at every sample.
    silent = (np.all(ref_frames.sum(axis=1) == 0, axis=-1).any(axis=0)
              | np.all(est_frames.sum(axis=1) == 0, axis=-1).any(axis=0))

    out = {name: np.full((nsrc, frames), np.nan) for name in ("SDR", "ISR", "SIR", "SAR")}
    for first in range(0, frames, frame_chunk):
        t = slice(first, min(frames, first + frame_chunk))
        ref, est = ref_frames[:, :, t], est_frames[:, :, t]
        f_ref, f_est = spectra(ref), spectra(est)
        proj_all, proj_own = f_ref @ f_all, f_ref @ f_own
        # museval's decomposition, s_true and the estimate zero-padded by L-1 samples:
        # e_spat = P_own - s, e_interf = P_all - P_own, e_artif = est - P_all (their sum is
        # est - s). The projections' energies by Parseval on the padded spans (the linear
        # convolutions fit in ``size`` samples); SDR's in time, independent of the filters.
        ref_energy = np.einsum("ectn,ectn->et", ref, ref)
        error = est - ref
        values = {"SDR": _db(ref_energy, np.einsum("ectn,ectn->et", error, error)),
                  "ISR": _db(ref_energy, energy(proj_own - f_ref)),
                  "SIR": _db(energy(proj_own), energy(proj_all - proj_own)),
                  "SAR": _db(energy(proj_all), energy(f_est - proj_all))}
        for name, value in values.items():
            out[name][:, t] = np.where(silent[t][None], np.nan, value)
    return out
