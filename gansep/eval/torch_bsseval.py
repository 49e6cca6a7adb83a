"""BSSEval v4 as ``museval.evaluate`` computes it, in torch (float64) on any device: the same
arithmetic as :mod:`gansep.eval.fast_bsseval` (lagged correlations by blocked FFTs summed in
the frequency domain, one solve for all estimates, every frame's projections batched), with
memory bounded by ``block_chunk`` (blocks of the correlation at a time) and ``frame_chunk``
(frames projected at once) rather than by the track's length.

On CPU it equals the numpy backend to float rounding; on a GPU it keeps the track on the
device, so the validation callback and ``gansep evaluate`` need not copy it to the host.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.fft import next_fast_len

from gansep.eval.fast_bsseval import FILTERS_LEN, frames_of, parseval_weights, segment

EPS = float(np.finfo(float).eps)


def lagged_correlations(a: torch.Tensor | list[torch.Tensor], b: torch.Tensor, lags: int,
                        block: int = 8192, chunk: int = 16) -> torch.Tensor:
    """``r[j, i, lags - 1 + tau] = sum_t a[i, t] * b[j, t + tau]`` for ``|tau| < lags`` (see
    :func:`gansep.eval.fast_bsseval.lagged_correlations`), ``chunk`` blocks at a time."""
    rows = sum(len(part) for part in a) if isinstance(a, list) else len(a)
    n = (a[0] if isinstance(a, list) else a).shape[-1]
    size = next_fast_len(block + 2 * (lags - 1), real=True)
    count = -(-n // block)
    chunk = min(chunk, count)
    like = dict(dtype=b.dtype, device=b.device)
    a_part = torch.empty((rows, chunk * block), **like)
    a_blocks = torch.zeros((rows, chunk, size), **like)
    b_part = torch.empty((b.shape[0], (chunk - 1) * block + size), **like)
    total = torch.zeros((size // 2 + 1, b.shape[0], rows), dtype=torch.complex128,
                        device=b.device)
    for first in range(0, count, chunk):
        k = min(chunk, count - first)
        segment(a, first * block, a_part)
        a_blocks[:, :k, :block] = a_part.reshape(rows, chunk, block)[:, :k]
        segment(b, first * block - (lags - 1), b_part)
        fa = torch.fft.rfft(a_blocks[:, :k], dim=-1)
        fb = torch.fft.rfft(b_part.unfold(-1, size, block)[:, :k], dim=-1)
        # Contiguous operands: a permuted batched matmul is several times slower in torch.
        total += fb.permute(2, 0, 1).contiguous() @ fa.conj().permute(2, 1, 0).contiguous()
    r = torch.fft.irfft(total, n=size, dim=0)[: 2 * lags - 1]
    return r.permute(1, 2, 0)


def _toeplitz_blocks(r: torch.Tensor, lags: int) -> torch.Tensor:
    p = torch.arange(lags, device=r.device)
    index = p[None, :] - p[:, None] + lags - 1
    g = r[:, :, index]
    m = r.shape[0]
    return g.permute(0, 2, 1, 3).reshape(m * lags, m * lags)


def _as_bin_matrices(f: torch.Tensor) -> torch.Tensor:
    """Filter spectra ``(j, cj, bins, e, c)`` as contiguous ``(bins, (j, cj), (e, c))``."""
    j, cj, bins, e, c = f.shape
    return f.permute(2, 0, 1, 3, 4).reshape(bins, j * cj, e * c).contiguous()


def _solve(gram: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """museval's ``(G + eps I) x = d``; least squares (pseudo-inverse) where G is singular."""
    eye = torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
    try:
        return torch.linalg.solve(gram + EPS * eye, rhs)
    except RuntimeError:  # torch.linalg.LinAlgError: singular
        return torch.linalg.pinv(gram) @ rhs


def _db(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    out = 10 * torch.log10(num / den)
    return torch.where(den == 0, torch.full_like(out, float("inf")), out)


def bss_eval_v4(references, estimates, window: int, hop: int, filters_len: int = FILTERS_LEN,
                device: str | torch.device | None = None, frame_chunk: int = 8,
                block_chunk: int = 16) -> dict[str, np.ndarray]:
    """Framewise SDR, ISR, SIR, SAR of ``estimates`` against ``references`` (``(sources,
    channels, time)``, numpy or torch; estimates zero-padded or cut to the references' length)
    on ``device`` (default: the references' own, or the CPU). Returns numpy
    ``{"SDR", "ISR", "SIR", "SAR"}``, each ``(sources, frames)``; NaN in silent frames."""
    def tensor(x):
        x = torch.as_tensor(x)
        return x.to(device or x.device, torch.float64)

    references, estimates = tensor(references), tensor(estimates)
    estimates = estimates.to(references.device)
    nsrc, nchan, n = references.shape
    if estimates.shape[-1] != n:
        fixed = torch.zeros_like(references)
        k = min(n, estimates.shape[-1])
        fixed[..., :k] = estimates[..., :k]
        estimates = fixed
    L, m = filters_len, nsrc * nchan
    refs, ests = references.reshape(m, n), estimates.reshape(m, n)

    r = lagged_correlations([refs, ests], refs, L, chunk=block_chunk)
    gram = _toeplitz_blocks(r[:, :m], L)
    rhs = r[:, m:, : L].flip(-1)  # lags 0, -1, ..., -(L-1): numpy's r[:, m:, L-1::-1]
    rhs = rhs.permute(0, 2, 1).reshape(m * L, m)
    c_all = _solve(gram, rhs).reshape(nsrc, nchan, L, nsrc, nchan)
    c_own = torch.empty((nsrc, nchan, L, nchan), dtype=torch.float64, device=refs.device)
    for j in range(nsrc):
        rows = slice(j * nchan * L, (j + 1) * nchan * L)
        c_own[j] = _solve(gram[rows, rows], rhs[rows, j * nchan : (j + 1) * nchan]
                          ).reshape(nchan, L, nchan)

    frames, width = frames_of(n, window, hop)
    step = hop if frames > 1 else width
    ref_frames = references.unfold(-1, width, step)[..., :frames, :]  # (j, c, T, width)
    est_frames = estimates.unfold(-1, width, step)[..., :frames, :]
    size = next_fast_len(width + L - 1, real=True)
    # Filters as (bins, (j, cj), (e, c)) matrices (see fast_bsseval).
    f_all = _as_bin_matrices(torch.fft.rfft(c_all, n=size, dim=2))
    own = torch.zeros_like(c_all)
    for e in range(nsrc):
        own[e, :, :, e] = c_own[e]
    f_own = _as_bin_matrices(torch.fft.rfft(own, n=size, dim=2))
    weights = torch.from_numpy(parseval_weights(size)).to(refs.device)

    def energy(x):  # contiguous (bins, frames, (e, c)) spectra -> (sources, frames) energies
        power = torch.view_as_real(x).square().reshape(len(x), -1)  # real, imaginary parts
        return (weights @ power).reshape(x.shape[1], nsrc, -1).sum(-1).T

    def spectra(x):  # (e, c, frames, width) -> (bins, frames, (e, c)), zero-padded to size
        f = torch.fft.rfft(x, n=size, dim=-1)
        return f.reshape(m, f.shape[2], f.shape[3]).permute(2, 1, 0).contiguous()

    silent = ((ref_frames.sum(dim=1) == 0).all(dim=-1).any(dim=0)
              | (est_frames.sum(dim=1) == 0).all(dim=-1).any(dim=0))
    out = {name: torch.full((nsrc, frames), float("nan"), dtype=torch.float64,
                            device=refs.device) for name in ("SDR", "ISR", "SIR", "SAR")}
    for first in range(0, frames, frame_chunk):
        t = slice(first, min(frames, first + frame_chunk))
        ref, est = ref_frames[:, :, t], est_frames[:, :, t]
        f_ref, f_est = spectra(ref), spectra(est)
        proj_all, proj_own = f_ref @ f_all, f_ref @ f_own
        ref_energy = (ref * ref).sum(dim=(1, 3))
        values = {"SDR": _db(ref_energy, ((est - ref) ** 2).sum(dim=(1, 3))),
                  "ISR": _db(ref_energy, energy(proj_own - f_ref)),
                  "SIR": _db(energy(proj_own), energy(proj_all - proj_own)),
                  "SAR": _db(energy(proj_all), energy(f_est - proj_all))}
        for name, value in values.items():
            out[name][:, t] = torch.where(silent[t][None], torch.full_like(value, float("nan")),
                                          value)
    return {name: value.cpu().numpy() for name, value in out.items()}
