"""Figures: matplotlib without a display, saved atomically (every PNG gansep writes)."""

from __future__ import annotations

from pathlib import Path

from gansep.atomic import atomic_target
from gansep.extras import require


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed), imported only when a
    figure is drawn: the commands that draw none start without it (it is the plots extra)."""
    matplotlib = require("plots")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | Path, dpi: int = 110) -> None:
    """Writes ``figure`` as a PNG at ``path`` atomically (a reader never sees half a file),
    then closes it."""
    try:
        with atomic_target(path) as tmp:
            figure.savefig(tmp, format="png", dpi=dpi)
    finally:
        pyplot().close(figure)
