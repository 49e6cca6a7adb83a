"""BSSEval v4 as ``museval.evaluate`` computes it, in torch (float64) on any device: the same
arithmetic as `gansep.eval.fast_bsseval` (lagged correlations by blocked FFTs summed in
the frequency domain, one solve for all estimates, every frame's projections batched), with
memory bounded by ``block_chunk`` (blocks of the correlation at a time) and ``frame_chunk``
(frames projected at once) rather than by the track's length.

On CPU it equals the numpy backend to float rounding; on a GPU it keeps the track on the
device, so the validation callback and ``gansep evaluate`` need not copy it to the host.

`bss_eval_v4_batch` scores several tracks at once, each kernel running on all of them
(one batched solve, one batched projection per chunk of frames): on a GPU, many small kernels
become fewer large ones. Tracks of unequal length are zero-padded to the longest: trailing
zeros add nothing to a lagged correlation, and only each track's own frames are kept, so every
track's figures are the ones it gets alone (to float rounding). Memory is the batch's size
times one track's.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.fft import next_fast_len

from gansep.eval.fast_bsseval import FILTERS_LEN, frames_of, parseval_weights, segment

EPS = float(np.finfo(float).eps)


def lagged_correlations(a: torch.Tensor | list[torch.Tensor], b: torch.Tensor, lags: int,
                        block: int = 8192, chunk: int = 16) -> torch.Tensor:
    """``r[..., j, i, lags - 1 + tau] = sum_t a[..., i, t] * b[..., j, t + tau]`` for
    ``|tau| < lags`` (see `gansep.eval.fast_bsseval.lagged_correlations`), ``chunk``
    blocks at a time; ``a`` ``(batch, Ma, n)`` (or a list stacked by rows) and ``b`` ``(batch,
    Mb, n)``, or the same without the batch dimension."""
    parts = a if isinstance(a, list) else [a]
    unbatched = b.ndim == 2
    if unbatched:
        parts, b = [part[None] for part in parts], b[None]
    batch, rows, n = b.shape[0], sum(part.shape[-2] for part in parts), b.shape[-1]
    size = next_fast_len(block + 2 * (lags - 1), real=True)
    count = -(-n // block)
    chunk = min(chunk, count)
    like = dict(dtype=b.dtype, device=b.device)
    a_part = torch.empty((batch, rows, chunk * block), **like)
    a_blocks = torch.zeros((batch, rows, chunk, size), **like)
    b_part = torch.empty((batch, b.shape[1], (chunk - 1) * block + size), **like)
    total = torch.zeros((batch, size // 2 + 1, b.shape[1], rows), dtype=torch.complex128,
                        device=b.device)
    for first in range(0, count, chunk):
        k = min(chunk, count - first)
        segment(parts, first * block, a_part)
        a_blocks[:, :, :k, :block] = a_part.reshape(batch, rows, chunk, block)[:, :, :k]
        segment(b, first * block - (lags - 1), b_part)
        fa = torch.fft.rfft(a_blocks[:, :, :k], dim=-1)  # (batch, Ma, blocks, bins)
        fb = torch.fft.rfft(b_part.unfold(-1, size, block)[:, :, :k], dim=-1)
        # Contiguous operands: a permuted batched matmul is several times slower in torch.
        total += fb.permute(0, 3, 1, 2).contiguous() @ fa.conj().permute(0, 3, 2, 1).contiguous()
    r = torch.fft.irfft(total, n=size, dim=1)[:, : 2 * lags - 1].permute(0, 2, 3, 1)
    return r[0] if unbatched else r


def _toeplitz_blocks(r: torch.Tensor, lags: int) -> torch.Tensor:
    """``(batch, m, m, 2 lags - 1)`` correlations -> ``(batch, m lags, m lags)`` Gram matrices
    (see `gansep.eval.fast_bsseval._toeplitz_blocks`)."""
    p = torch.arange(lags, device=r.device)
    index = p[None, :] - p[:, None] + lags - 1
    g = r[..., index]  # (batch, m, m, L, L)
    batch, m = r.shape[0], r.shape[1]
    return g.permute(0, 1, 3, 2, 4).reshape(batch, m * lags, m * lags)


def _as_bin_matrices(f: torch.Tensor) -> torch.Tensor:
    """Filter spectra ``(batch, j, cj, bins, e, c)`` as contiguous ``(batch, bins, (j, cj),
    (e, c))``."""
    batch, j, cj, bins, e, c = f.shape
    return f.permute(0, 3, 1, 2, 4, 5).reshape(batch, bins, j * cj, e * c).contiguous()


def _solve(gram: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """museval's ``(G + eps I) x = d`` for each matrix of the batch; least squares
    (pseudo-inverse) for a matrix that is singular, the others solved as usual."""
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    solution, info = torch.linalg.solve_ex(gram + EPS * eye, rhs)
    for k in torch.nonzero(info).flatten().tolist():  # singular: torch.linalg.LinAlgError
        solution[k] = torch.linalg.pinv(gram[k]) @ rhs[k]
    return solution


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
    return bss_eval_v4_batch([references], [estimates], window, hop, filters_len, device,
                             frame_chunk, block_chunk)[0]


def bss_eval_v4_batch(references: list, estimates: list, window: int, hop: int,
                      filters_len: int = FILTERS_LEN, device: str | torch.device | None = None,
                      frame_chunk: int = 8, block_chunk: int = 16) -> list[dict[str, np.ndarray]]:
    """`bss_eval_v4` of several tracks at once (see the module's docstring): lists of
    ``(sources, channels, time)`` references and estimates, every track with the same sources
    and channels, any lengths; one result per track, in order."""
    def tensor(x):
        x = torch.as_tensor(x)
        return x.to(device or x.device, torch.float64)

    if len(references) != len(estimates) or not references:
        raise ValueError(f"{len(references)} references and {len(estimates)} estimates: "
                         "expected one estimate per track, at least one track")
    references = [tensor(x) for x in references]
    where = references[0].device
    shapes = {tuple(x.shape[:2]) for x in references}
    if len(shapes) > 1:
        raise ValueError(f"tracks of (sources, channels) {sorted(shapes)} in one batch: "
                         "expected one shape")
    lengths = [x.shape[-1] for x in references]
    grids = [frames_of(length, window, hop) for length in lengths]
    if len({width for _, width in grids}) > 1:
        raise ValueError(f"tracks of {sorted(set(lengths))} samples in one batch: some are "
                         f"shorter than one {window}-sample frame; score those alone")
    batch, (nsrc, nchan), n = len(references), shapes.pop(), max(lengths)
    refs_all = torch.zeros((batch, nsrc, nchan, n), dtype=torch.float64, device=where)
    ests_all = torch.zeros_like(refs_all)
    for b, (ref, est) in enumerate(zip(references, estimates)):
        est = tensor(est).to(where)
        k = min(lengths[b], est.shape[-1])  # estimates zero-padded or cut to the reference
        refs_all[b, ..., : lengths[b]] = ref
        ests_all[b, ..., :k] = est[..., :k]
    del references, estimates
    L, m = filters_len, nsrc * nchan
    refs, ests = refs_all.reshape(batch, m, n), ests_all.reshape(batch, m, n)

    r = lagged_correlations([refs, ests], refs, L, chunk=block_chunk)  # (batch, m, 2m, 2L-1)
    gram = _toeplitz_blocks(r[:, :, :m], L)
    rhs = r[:, :, m:, :L].flip(-1)  # lags 0, -1, ..., -(L-1): numpy's r[:, m:, L-1::-1]
    rhs = rhs.permute(0, 1, 3, 2).reshape(batch, m * L, m)
    del r
    c_all = _solve(gram, rhs).reshape(batch, nsrc, nchan, L, nsrc, nchan)
    own = torch.zeros_like(c_all)  # own[:, e, :, :, e]: estimate e on its own reference only
    for j in range(nsrc):
        rows = slice(j * nchan * L, (j + 1) * nchan * L)
        own[:, j, :, :, j] = _solve(gram[:, rows, rows], rhs[:, rows, j * nchan : (j + 1) * nchan]
                                    ).reshape(batch, nchan, L, nchan)
    del gram, rhs

    frames = max(count for count, _ in grids)
    width = grids[0][1]
    step = hop if frames > 1 else width
    ref_frames = refs_all.unfold(-1, width, step)[..., :frames, :]  # (batch, j, c, T, width)
    est_frames = ests_all.unfold(-1, width, step)[..., :frames, :]
    size = next_fast_len(width + L - 1, real=True)
    # Filters as (batch, bins, (j, cj), (e, c)) matrices (see fast_bsseval).
    f_all = _as_bin_matrices(torch.fft.rfft(c_all, n=size, dim=3))
    f_own = _as_bin_matrices(torch.fft.rfft(own, n=size, dim=3))
    weights = torch.from_numpy(parseval_weights(size)).to(where)

    def energy(x):  # (batch, bins, frames, (e, c)) spectra -> (batch, sources, frames)
        power = torch.view_as_real(x).square().reshape(batch, x.shape[1], -1)
        return (weights @ power).reshape(batch, x.shape[2], nsrc, -1).sum(-1).transpose(1, 2)

    def spectra(x):  # (batch, e, c, frames, width) -> (batch, bins, frames, (e, c))
        f = torch.fft.rfft(x, n=size, dim=-1)
        return f.reshape(batch, m, f.shape[3], f.shape[4]).permute(0, 3, 2, 1).contiguous()

    silent = ((ref_frames.sum(dim=2) == 0).all(dim=-1).any(dim=1)
              | (est_frames.sum(dim=2) == 0).all(dim=-1).any(dim=1))  # (batch, frames)
    out = {name: torch.full((batch, nsrc, frames), float("nan"), dtype=torch.float64,
                            device=where) for name in ("SDR", "ISR", "SIR", "SAR")}
    for first in range(0, frames, frame_chunk):
        t = slice(first, min(frames, first + frame_chunk))
        ref, est = ref_frames[:, :, :, t], est_frames[:, :, :, t]
        f_ref, f_est = spectra(ref), spectra(est)
        proj_all, proj_own = f_ref @ f_all, f_ref @ f_own
        ref_energy = (ref * ref).sum(dim=(2, 4))
        values = {"SDR": _db(ref_energy, ((est - ref) ** 2).sum(dim=(2, 4))),
                  "ISR": _db(ref_energy, energy(proj_own - f_ref)),
                  "SIR": _db(energy(proj_own), energy(proj_all - proj_own)),
                  "SAR": _db(energy(proj_all), energy(f_est - proj_all))}
        for name, value in values.items():
            out[name][:, :, t] = torch.where(silent[:, None, t],
                                             torch.full_like(value, float("nan")), value)
    out = {name: value.cpu().numpy() for name, value in out.items()}
    return [{name: value[b, :, : grids[b][0]] for name, value in out.items()}
            for b in range(batch)]
