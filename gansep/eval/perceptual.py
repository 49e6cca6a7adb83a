"""A perceptual score fitted to listening-test ratings (``gansep listen fit-objective``), and the
training objective it implies.

The model predicts a MUSHRA rating (0-100) of a separated source from differentiable
reconstruction terms of it against its reference: each term (a loss: lower is better) is
standardised by the mean and standard deviation it had over the rated stimuli, and

    rating = intercept - sum_k w_k (term_k - mean_k) / std_k,    w_k >= 0,

so the prediction can only fall when a loss grows (monotone), and each weight says how many
rating points one standard deviation of its term costs (interpretable). The implied training
objective is the same sum without its constants, ``sum_k w_k / std_k * term_k / 100``: one unit
of it is 100 predicted rating points, and minimising it maximises the predicted rating.

`PerceptualScore` applies a fitted model to whole tracks: the tracks are cut into windows
as long as the rated excerpts; windows where the reference is silent are skipped; the score is
the median over windows, as BSSEval takes the median over frames.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from gansep import losses
from gansep.atomic import atomic_target
from gansep.data.audio import DataError, resample
from gansep.errors import ConfigError

MODEL_FILE = "perceptual.json"
OBJECTIVE_FILE = "objective.yaml"
FORMAT = "gansep-perceptual/1"
SILENT_DBFS = -60.0  # a window whose reference is quieter than this is not scored

#: The candidate terms: the reconstruction losses gansep trains with, at several STFT
#: resolutions (samples at the rated test's rate), as ``name: (class path, init args)``.
TERMS: dict[str, tuple[str, dict]] = {
    "l1": ("gansep.losses.L1", {}),
    "l2": ("gansep.losses.L2", {}),
    "mrstft": ("gansep.losses.MultiResolutionSTFT", {}),
    "stft-256": ("gansep.losses.MultiResolutionSTFT",
                 {"fft_sizes": [256], "hop_sizes": [64], "win_lengths": [256]}),
    "stft-1024": ("gansep.losses.MultiResolutionSTFT",
                  {"fft_sizes": [1024], "hop_sizes": [256], "win_lengths": [1024]}),
    "stft-4096": ("gansep.losses.MultiResolutionSTFT",
                  {"fft_sizes": [4096], "hop_sizes": [1024], "win_lengths": [4096]}),
    "sisdr": ("gansep.losses.SISDR", {}),
}


def build_term(class_path: str, init_args: dict, weight: float = 1.0):
    """An instance of a reconstruction term of `TERMS` (by its class path)."""
    classes = {"gansep.losses.L1": losses.L1, "gansep.losses.L2": losses.L2,
               "gansep.losses.MultiResolutionSTFT": losses.MultiResolutionSTFT,
               "gansep.losses.SISDR": losses.SISDR}
    if class_path not in classes:
        raise ConfigError(f"perceptual term class {class_path!r} is not one of gansep's "
                          f"({', '.join(classes)})")
    return classes[class_path](weight=weight, **init_args)


def _plain_json(value):
    """``value`` as JSON sees it (tuples as lists), to compare definitions."""
    return json.loads(json.dumps(value, sort_keys=True))


@lru_cache(maxsize=64)
def _cached_term(class_path: str, init_args_json: str):
    """One instance per term definition (a term is built once, then applied to every excerpt
    and window)."""
    return build_term(class_path, json.loads(init_args_json))


def term_values(reference: np.ndarray, estimate: np.ndarray, terms: dict[str, tuple[str, dict]]
                ) -> dict[str, float]:
    """Every term of ``estimate`` against ``reference`` (both ``(channels, time)``)."""
    import torch

    shaped = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
              for x in (estimate, reference)]
    with torch.no_grad():
        return {name: float(_cached_term(path, json.dumps(args, sort_keys=True))(*shaped))
                for name, (path, args) in terms.items()}


@dataclass
class PerceptualModel:
    """A fitted model (see the module docstring). ``terms`` maps each term's name to its class
    path and init args; ``weights``, ``means``, ``stds`` are per term; ``rate`` and
    ``excerpt_seconds`` are those of the rated test; ``provenance`` records the fit."""

    terms: dict[str, tuple[str, dict]]
    weights: dict[str, float]
    means: dict[str, float]
    stds: dict[str, float]
    intercept: float
    rate: int
    excerpt_seconds: float
    source: str
    provenance: dict = field(default_factory=dict)

    def predict(self, values: dict[str, float]) -> float:
        """The predicted rating of one stimulus from its term values."""
        return float(self.intercept - sum(
            w * (values[name] - self.means[name]) / self.stds[name]
            for name, w in self.weights.items() if w > 0))

    @property
    def used(self) -> dict[str, tuple[str, dict]]:
        """The terms with a positive weight."""
        return {name: self.terms[name] for name, w in self.weights.items() if w > 0}

    def objective_config(self) -> dict:
        """The implied training objective as a LightningCLI ``Objective`` config."""
        terms = [{"class_path": path, "init_args": {
                     "weight": float(self.weights[name] / self.stds[name] / 100), **args}}
                 for name, (path, args) in self.used.items()]
        return {"class_path": "gansep.losses.Objective",
                "init_args": {"reconstruction": terms, "adversarial": None, "lyrics": None}}

    def save(self, folder: Path) -> None:
        """Writes ``perceptual.json`` and ``objective.yaml`` in ``folder`` (atomically)."""
        import yaml

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, **asdict(self)}
        with atomic_target(folder / MODEL_FILE) as tmp:
            Path(tmp).write_text(json.dumps(data, indent=2) + "\n")
        header = (f"# Fitted to listening-test ratings by gansep listen fit-objective "
                  f"({self.provenance.get('ratings', '?')}): minimising it maximises the "
                  "predicted\n# MUSHRA rating; one unit is 100 rating points. Terms at "
                  f"{self.rate} Hz; see {MODEL_FILE} beside it.\n")
        with atomic_target(folder / OBJECTIVE_FILE) as tmp:
            Path(tmp).write_text(header + yaml.safe_dump(self.objective_config(),
                                                         sort_keys=False))

    @classmethod
    def load(cls, folder: Path) -> "PerceptualModel":
        """Reads a folder written by `save`; ConfigError naming the file otherwise."""
        path = Path(folder) / MODEL_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{folder}: not a fitted perceptual objective (no {MODEL_FILE}; "
                              "write one with gansep listen fit-objective)") from None
        except (OSError, ValueError) as error:
            raise ConfigError(f"{path}: cannot read ({error})") from None
        if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
            raise ConfigError(f"{path}: not a {FORMAT} file")
        try:
            model = cls(**data)
            model.terms = {name: (class_path, dict(args)) for name, (class_path, args)
                           in model.terms.items()}
        except (TypeError, ValueError, AttributeError) as error:
            raise ConfigError(f"{path}: damaged ({type(error).__name__}: {error})") from None
        # Terms are data: each must be one of gansep's own (TERMS), with its class and
        # arguments as there; a file never chooses code to import.
        for name, definition in model.terms.items():
            if name not in TERMS or _plain_json(definition) != _plain_json(TERMS[name]):
                raise ConfigError(
                    f"{path}: refused: terms.{name} is not one of gansep's perceptual terms as "
                    f"defined ({', '.join(TERMS)}); a fitted model names terms, never code")
        incomplete = [name for name in model.weights
                      if not all(name in part for part in (model.terms, model.means, model.stds))]
        if incomplete:
            raise ConfigError(f"{path}: damaged (term(s) {', '.join(incomplete)} lack a class, "
                              "mean or standard deviation)")
        return model


class PerceptualScore:
    """A fitted model applied to separated sources: `score` for one excerpt,
    `score_track` for a whole track (median over excerpt-long windows).

    Args:
        folder: written by ``gansep listen fit-objective``.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.model = PerceptualModel.load(self.folder)

    def score(self, reference: np.ndarray, estimate: np.ndarray) -> float:
        """The predicted rating of ``estimate`` against ``reference`` (``(channels, time)``, at
        the model's rate)."""
        return self.model.predict(term_values(reference, estimate, self.model.used))

    def score_track(self, reference: np.ndarray, estimate: np.ndarray, rate: int
                    ) -> tuple[float, int]:
        """``(median predicted rating over windows, windows scored)`` of a whole track, or
        (NaN, 0) when no window has an audible reference. Audio at another rate is
        resampled to the model's."""
        if reference.shape != estimate.shape:
            raise DataError(f"reference {reference.shape} and estimate {estimate.shape} "
                            "differ in shape")
        if rate != self.model.rate:
            reference = resample(reference, rate, self.model.rate)
            estimate = resample(estimate, rate, self.model.rate)
        span = int(round(self.model.excerpt_seconds * self.model.rate))
        scores = []
        for start in range(0, max(reference.shape[-1] - span, 0) + 1, span):
            window = reference[..., start : start + span]
            if window.shape[-1] < span // 2:
                break
            level = 10 * np.log10(np.mean(window.astype(np.float64) ** 2) + 1e-20)
            if level < SILENT_DBFS:
                continue
            scores.append(self.score(window, estimate[..., start : start + span]))
        return (float(np.median(scores)), len(scores)) if scores else (float("nan"), 0)
