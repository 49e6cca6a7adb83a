"""How far BSSEval v4's ISR, SIR and SAR can differ between correct implementations on real
music, and why: the MUSDB18 excerpt of ../shared/data as 2 sources (vocals, accompaniment) and
as 4 (vocals and the accompaniment split in three frequency bands, below 250 Hz, 250 Hz-2 kHz
and above: stems with no energy outside their band, as bass often is).

    python bench/bsseval_conditioning.py [--seconds 10]

For each case: the condition number of museval's Gram matrix of delayed references, the
medians museval gives, and the largest per-frame difference from museval of museval itself on
the sources listed in reverse order, and of gansep's fast and torch backends. SDR does not
depend on the distortion filters and agrees to rounding; ISR/SIR/SAR do, and where the Gram
matrix is numerically singular the filters are set by rounding in every implementation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bsseval import condition_number, largest_difference  # bench/bsseval.py
from gansep.data.audio import read_audio
from gansep.eval.bsseval import bss_eval

CLIP = (Path(__file__).resolve().parents[2] / "shared" / "data" / "musdb18-excerpt"
        / "The Mountaineering Club - Mallory")
RATE = 44100


def bands(x: np.ndarray, edges=(250.0, 2000.0)) -> list[np.ndarray]:
    """``x`` split into frequency bands that sum to it (ideal FFT masks)."""
    spectrum = np.fft.rfft(x, axis=-1)
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / RATE)
    limits = [0.0, *edges, np.inf]
    return [np.fft.irfft(spectrum * ((freqs >= lo) & (freqs < hi)), n=x.shape[-1], axis=-1)
            for lo, hi in zip(limits[:-1], limits[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if not CLIP.is_dir():
        raise SystemExit(f"{CLIP} is absent: this bench needs the team's shared data")
    n = int(args.seconds * RATE)

    def read(name: str) -> np.ndarray:
        return read_audio(CLIP / f"{name}.mp3")[0].astype(np.float64)[:, :n]

    cases = {}
    for kind in ("true", "estimate"):
        vocals, accompaniment = read(f"vocals_{kind}"), read(f"accompaniment_{kind}")
        cases.setdefault(2, []).append(np.stack([vocals, accompaniment]))
        cases.setdefault(4, []).append(np.stack([vocals, *bands(accompaniment)]))
    print(f"{args.seconds:.0f} s of {CLIP.name}, 1 s frames")
    print("| sources | Gram cond. | museval SDR / ISR / SIR / SAR medians, first source | "
          "museval reversed | fast | torch (cpu) |")
    print("|---:|---:|---|---|---|---|")
    for sources, (references, estimates) in cases.items():
        expected = bss_eval(references, estimates, RATE, backend="museval")
        reversed_ = bss_eval(references[::-1].copy(), estimates[::-1].copy(), RATE,
                             backend="museval")
        rows = [{k: v[::-1] for k, v in reversed_.items()},
                bss_eval(references, estimates, RATE, backend="fast"),
                bss_eval(references, estimates, RATE, backend="torch")]

        def differences(ours: dict) -> str:
            sdr = float(np.nanmax(np.abs(ours["SDR"] - expected["SDR"])))
            return f"SDR {sdr:.0e}, others {largest_difference(ours, expected):.3g} dB"

        medians = " / ".join(f"{np.nanmedian(expected[m][0]):.2f}"
                             for m in ("SDR", "ISR", "SIR", "SAR"))
        print(f"| {sources} | {condition_number(references):.1e} | {medians} | "
              + " | ".join(differences(row) for row in rows) + " |", flush=True)


if __name__ == "__main__":
    main()
