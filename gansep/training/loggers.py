"""The run logger of gansep's configs: one folder per run (``save_dir/name/version``) holding
TensorBoard's event files (scalars, the validation callback's audio and spectrograms) and a
``metrics.csv`` beside them, which a resumed run continues rather than replaces.

Lightning's own CSVLogger deletes ``metrics.csv`` whenever its folder exists, so resuming
a run (``--ckpt_path last``) would lose every step logged before the interruption. Here the
file is kept; a value logged again for a step it already holds (the steps between the last
checkpoint and the interruption are trained and logged twice) replaces the earlier one, so
each logged step appears exactly once.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path

from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only

from gansep.atomic import atomic_target
from gansep.data.audio import DataError

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.csv"


def _number(value):
    if hasattr(value, "item"):
        value = value.item()
    return value


class MetricsCSV:
    """``metrics.csv`` in ``folder``: one row per step (``step`` and every key logged at it),
    continued across resumptions: a ``(step, key)`` logged again replaces its earlier value."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / METRICS_FILE
        self.rows: dict[int, dict] = {}
        self.keys: set[str] = set()
        self.dirty: set[int] = set()  # steps logged since the last save
        self.header: list[str] | None = None  # the keys of the file as written
        self.in_file: set[int] = set()  # the steps the file holds
        if self.path.is_file():
            text = self.path.read_text()
            if not text.endswith("\n"):  # a line cut by a kill during an append
                text = text[: text.rfind("\n") + 1]
            for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
                try:
                    step = int(float(row.pop("step")))
                    values = {k: float(v) for k, v in row.items() if k and v not in ("", None)}
                except (KeyError, TypeError, ValueError) as error:
                    raise DataError(f"{self.path}: row {number}: expected a step and numbers "
                                    f"({type(error).__name__}: {error}); the run's log is "
                                    "damaged: nothing appended to it") from None
                self.rows.setdefault(step, {}).update(values)
            self.keys = {k for row in self.rows.values() for k in row}
            self.dirty = set(self.rows)  # rewritten whole (and cut lines dropped) at first save

    def log(self, metrics: dict, step: int) -> None:
        row = self.rows.setdefault(int(step), {})
        for key, value in metrics.items():
            row[key] = float(_number(value))
            self.keys.add(key)
        self.dirty.add(int(step))

    def _line(self, writer: csv.DictWriter, step: int) -> None:
        writer.writerow({"step": step, **{k: ("" if math.isnan(v) else v)
                                           for k, v in self.rows[step].items()}})

    def save(self) -> None:
        """Appends the new steps' rows when the header holds and they follow the file's last
        step; otherwise (a new key, a step logged again) rewrites the file atomically."""
        if not self.dirty:
            return
        keys = sorted(self.keys)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=["step", *keys], lineterminator="\n")
        if self.header == keys and self.path.is_file() and \
                min(self.dirty) > max(self.in_file, default=-1):
            for step in sorted(self.dirty):
                self._line(writer, step)
            with self.path.open("a", newline="") as file:
                file.write(text.getvalue())
        else:
            writer.writeheader()
            for step in sorted(self.rows):
                self._line(writer, step)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_target(self.path) as tmp:
                Path(tmp).write_text(text.getvalue())
            self.header = keys
        self.in_file = set(self.rows)  # every row is in the file now
        self.dirty.clear()


class RunLogger(TensorBoardLogger):
    """TensorBoard plus a resumable ``metrics.csv`` in one run folder,
    ``save_dir/name/version`` (see the module's docstring). The arguments are
    TensorBoardLogger's; ``csv`` turns the CSV file off.

    Args:
        save_dir: the folder of all runs (``runs``).
        name: the experiment (``demo``).
        version: the run (``l1``); None: ``version_<n>``, the next free number.
        csv: also write ``metrics.csv``.
        default_hp_metric: TensorBoard's placeholder ``hp_metric`` (off: it is no metric).
    """

    def __init__(self, save_dir: str = "runs", name: str = "lightning_logs",
                 version: int | str | None = None, csv: bool = True,
                 default_hp_metric: bool = False, **kwargs):
        super().__init__(save_dir, name=name, version=version,
                         default_hp_metric=default_hp_metric, **kwargs)
        self.csv = csv
        self._metrics: MetricsCSV | None = None

    @property
    def metrics_csv(self) -> MetricsCSV | None:
        if self.csv and self._metrics is None:
            self._metrics = MetricsCSV(self.log_dir)
        return self._metrics

    @rank_zero_only
    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        if self.metrics_csv is not None:
            self.metrics_csv.log(metrics, 0 if step is None else step)

    @rank_zero_only
    def save(self) -> None:
        super().save()
        if self.metrics_csv is not None:
            self.metrics_csv.save()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        if self._metrics is not None:
            self._metrics.save()
