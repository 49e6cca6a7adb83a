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

from gansep.eval.fast_bsseval import FILTERS_LEN, frames_of

EPS = float(np.finfo(float).eps)


def lagged_correlations(a: torch.Tensor, b: torch.Tensor, lags: int, block: int = 8192,
                        chunk: int = 64) -> torch.Tensor:
    """``r[j, i, lags - 1 + tau] = sum_t a[i, t] * b[j, t + tau]`` for ``|tau| < lags`` (see
    :func:`gansep.eval.fast_bsseval.lagged_correlations`), ``chunk`` blocks at a time."""
    n = a.shape[-1]
    size = next_fast_len(block + 2 * (lags - 1), real=True)
    count = -(-n // block)
    a_blocks = torch.nn.functional.pad(a, (0, count * block - n)).reshape(a.shape[0], count, block)
    b_padded = torch.nn.functional.pad(b, (lags - 1, (count - 1) * block + size - n - lags + 1))
    b_windows = b_padded.unfold(-1, size, block)  # (Mb, count, size)
    total = torch.zeros((size // 2 + 1, b.shape[0], a.shape[0]), dtype=torch.complex128,
                        device=a.device)
    for first in range(0, count, chunk):
        fa = torch.fft.rfft(a_blocks[:, first : first + chunk], n=size, dim=-1)
        fb = torch.fft.rfft(b_windows[:, first : first + chunk], n=size, dim=-1)
        total += fb.permute(2, 0, 1) @ fa.conj().permute(2, 1, 0)
    r = torch.fft.irfft(total, n=size, dim=0)[: 2 * lags - 1]
    return r.permute(1, 2, 0)


def _toeplitz_blocks(r: torch.Tensor, lags: int) -> torch.Tensor:
    p = torch.arange(lags, device=r.device)
    index = p[None, :] - p[:, None] + lags - 1
    g = r[:, :, index]
    m = r.shape[0]
    return g.permute(0, 2, 1, 3).reshape(m * lags, m * lags)


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
                device: str | torch.device | None = None, frame_chunk: int = 16,
                block_chunk: int = 64) -> dict[str, np.ndarray]:
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

    r = lagged_correlations(torch.cat([refs, ests]), refs, L, chunk=block_chunk)
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
    span = width + L - 1
    f_all = torch.fft.rfft(c_all, n=size, dim=2)  # (j, cj, bins, e, c)
    f_own = torch.fft.rfft(c_own, n=size, dim=2)  # (e, cj, bins, c)
    silent = ((ref_frames.sum(dim=1) == 0).all(dim=-1).any(dim=0)
              | (est_frames.sum(dim=1) == 0).all(dim=-1).any(dim=0))

    out = {name: torch.full((nsrc, frames), float("nan"), dtype=torch.float64,
                            device=refs.device) for name in ("SDR", "ISR", "SIR", "SAR")}

    def energy(x):
        return (x * x).sum(dim=-1)  # (e, c, T, n) -> (e, c, T) then channels below

    for first in range(0, frames, frame_chunk):
        t = slice(first, min(frames, first + frame_chunk))
        f_ref = torch.fft.rfft(ref_frames[:, :, t], n=size, dim=-1)  # (j, cj, T, bins)
        proj_all = torch.fft.irfft(torch.einsum("jktf,jkfec->ectf", f_ref, f_all),
                                   n=size, dim=-1)[..., :span]
        proj_own = torch.fft.irfft(torch.einsum("ektf,ekfc->ectf", f_ref, f_own),
                                   n=size, dim=-1)[..., :span]
        ref, est = ref_frames[:, :, t], est_frames[:, :, t]
        total = lambda x: energy(x).sum(dim=1)  # noqa: E731  (sources, frames)
        e_artif = -proj_all
        e_artif[..., :width] += est
        e_interf = proj_all - proj_own
        e_spat = proj_own.clone()
        e_spat[..., :width] -= ref
        values = {"SIR": _db(total(proj_own), total(e_interf)),
                  "SAR": _db(total(proj_all), total(e_artif)),
                  "SDR": _db(total(ref), total(est - ref)),
                  "ISR": _db(total(ref), total(e_spat))}
        for name, value in values.items():
            out[name][:, t] = torch.where(silent[t][None], torch.full_like(value, float("nan")),
                                          value)
    return {name: value.cpu().numpy() for name, value in out.items()}
