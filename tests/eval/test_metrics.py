"""The metric interface: each metric agrees with its function, one list drives every table, and
a metric defined outside gansep reaches the validation log, evaluate's results and compare."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl

from gansep.cli import evaluate as evaluate_command
from gansep.data import SeparationData, StemsFolder
from gansep.errors import ConfigError
from gansep.eval.bsseval import bss_eval
from gansep.data.audio import DataError, read_audio, write_audio
from gansep.eval.evaluate import Loaded, TrackError, TrackJob, run_jobs, score_track
from gansep.eval.metrics import (L1, SISDR, BSSEval, GlobalSDR, Metric, compute, global_sdr,
                                 TrackAudio, provenance, read_metrics,
                                 standard_metrics)
from gansep.eval.si_sdr import si_sdr
from gansep.experiments.compare import compare_runs
from gansep.training import Separator
from gansep.training.callbacks import SeparationMetrics
from tests.conftest import tiny_generator

ROOT = Path(__file__).resolve().parents[2]
RATE = 8000


def track(rng, sources=2, seconds=2.0):
    references = rng.standard_normal((sources, 2, int(seconds * RATE)))
    return references, references + 0.3 * rng.standard_normal(references.shape)


def test_each_metric_gives_what_its_function_gives(rng):
    references, estimates = track(rng)
    values = compute(standard_metrics() + [L1()], references, estimates, RATE)
    expected = bss_eval(references, estimates, RATE)
    for name in ("SDR", "ISR", "SIR", "SAR"):
        np.testing.assert_array_equal(values[name], expected[name])
    assert values["SI-SDR"].tolist() == [si_sdr(r, e) for r, e in zip(references, estimates)]
    np.testing.assert_allclose(values["L1"], np.abs(estimates - references).mean(axis=(1, 2)))


def test_every_metric_gets_the_one_track_object_and_a_bad_track_stops_no_other(rng):
    """run_jobs, the loop behind evaluate, score, test and the validation callback: tracks
    scored in order, in batches; a track that cannot be loaded or scored is reported as a
    TrackError in its place; every metric sees the mixture, name and folder."""
    seen = []

    class Sees(Metric):
        names = ("Sees",)

        def __call__(self, track):
            seen.append((track.name, track.mixture.shape, track.folder))
            return {"Sees": np.zeros(len(track.references))}

    def job(name, broken=None):
        def load():
            if broken == "load":
                raise DataError(f"{name}.wav: unreadable")
            references, estimates = track(rng)
            if broken == "score":
                estimates[0, 0, 0] = np.nan
            return Loaded(TrackAudio(references, estimates, RATE, ["a", "b"], Path(name),
                                     references.sum(0), name))
        return TrackJob(name, dict, load)

    jobs = [job("one"), job("two", "load"), job("three", "score"), job("four")]
    results = list(run_jobs(jobs, [SISDR(), Sees()], batch_tracks=2))
    assert [j.name for j, _, _ in results] == ["two", "one", "three", "four"]  # loads first
    errors = {j.name: str(r) for j, _, r in results if isinstance(r, TrackError)}
    assert errors == {"two": "two.wav: unreadable", "three": "a: estimate holds NaN or "
                      "infinite samples"}
    assert [name for name, _, _ in seen] == ["one", "four"]
    assert all(shape == (2, 2 * RATE) and folder == Path(name) for name, shape, folder in seen)


def test_a_name_given_twice_or_a_non_metric_is_refused():
    class Other(Metric):
        names = ("SI-SDR",)

    with pytest.raises(ConfigError, match="Other and SISDR both give 'SI-SDR'"):
        standard_metrics(extra=[Other()])
    with pytest.raises(ConfigError, match="is not a gansep.eval.metrics.Metric"):
        standard_metrics(extra=["SDR"])


def test_a_metric_that_breaks_its_promise_is_a_bug(rng):
    class Wrong(Metric):
        names = ("Wrong",)

        def __call__(self, track):
            return {"Wrong": np.zeros((len(track.references), 3))}  # per frame, not framewise

    with pytest.raises(ValueError, match=r"Wrong has shape \(2, 3\), expected \(2\)"):
        compute([Wrong()], *track(rng), RATE)


def test_provenance_keeps_the_records_of_earlier_results():
    """BSSEval's settings keep their keys (results written before metrics were objects still
    resume); another metric records its class and settings."""
    record = provenance(standard_metrics(2.0, 1.0, "museval") + [L1()])
    assert record == {"backend": "museval", "window": 2.0, "hop": 1.0,
                      "metric gansep.eval.metrics.L1": {}}


def test_framewise_metrics_share_one_frame_grid(rng):
    with pytest.raises(ConfigError, match="different frame grids"):
        score_track(*track(rng), RATE, ["a", "b"], [BSSEval(1.0, 1.0), SISDR(),
                                                    _Framed(0.5, 0.5)])


class _Framed(BSSEval):
    names = ("SDR2", "ISR2", "SIR2", "SAR2")

    def __call__(self, track):
        return {f"{k}2": v for k, v in super().__call__(track).items()}


def test_read_metrics_builds_the_listed_classes_and_names_a_bad_file(tmp_path):
    good = tmp_path / "metrics.yaml"
    good.write_text("metrics:\n  - class_path: gansep.eval.metrics.L1\n"
                    "  - class_path: gansep.eval.metrics.BSSEval\n    init_args: {window: 2.0}\n")
    metrics = read_metrics(good)
    assert [type(m).__name__ for m in metrics] == ["L1", "BSSEval"] and metrics[1].window == 2.0
    for text in ("metrics: 3\n", "metric: []\n",
                 "metrics:\n  - class_path: gansep.losses.L1\n"):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=r"--metrics .*bad.yaml: expected") as error:
            read_metrics(bad)
        assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="missing.yaml"):
        read_metrics(tmp_path / "missing.yaml")


TOY = '''
import numpy as np

from gansep.eval.metrics import Metric


class Peak(Metric):
    """A toy metric: the estimate's peak over the reference's, in dB."""

    names = ("Peak",)

    def __init__(self, floor: float = 1e-9):
        self.floor = floor

    def __call__(self, track):
        peak = lambda x: np.abs(x).max(axis=(1, 2)) + self.floor
        return {"Peak": 20 * np.log10(peak(track.estimates) / peak(track.references))}
'''


def test_a_metric_listed_in_a_config_reaches_every_table(toy_root, tmp_path, monkeypatch):
    """A metric class outside gansep, named in the run config's model.metrics: it is logged in
    validation, stored in evaluate's JSON, summarised in results.md and compared."""
    (tmp_path / "toymetric.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    from toymetric import Peak

    pl.seed_everything(0)
    module = Separator(tiny_generator(), metrics=[Peak()])
    data = SeparationData(StemsFolder(toy_root), batch_size=2, excerpts_per_epoch=2)
    trainer = pl.Trainer(max_steps=1, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=1,
                         callbacks=[SeparationMetrics(duration=1.0, max_tracks=1)])
    trainer.fit(module, data)
    assert np.isfinite(float(trainer.callback_metrics["val/peak/vocals"]))
    # the MDX global SDR beside BSSEval's, under the name the field's frameworks log
    assert np.isfinite(float(trainer.callback_metrics["val/usdr/vocals"]))
    checkpoint = tmp_path / "toy.ckpt"
    trainer.save_checkpoint(checkpoint)

    config = tmp_path / "run.yaml"
    config.write_text("model:\n  init_args:\n    metrics:\n      - class_path: toymetric.Peak\n")
    out = tmp_path / "run" / "results"
    assert evaluate_command.main(
        ["--ckpt", str(checkpoint), "--config", str(ROOT / "configs" / "demo.yaml"),
         "--config", str(config), "--data.collection.init_args.root", str(toy_root),
         "--out", str(out), "--duration", "1"]) == 0
    result = json.loads(next((out / "test").glob("*.json")).read_text())
    assert all(isinstance(target["Peak"], float) for target in result["targets"])
    assert result["gansep_provenance"]["metric toymetric.Peak"] == {"floor": 1e-9}
    header = next(line for line in (out / "results.md").read_text().splitlines()
                  if line.startswith("| source"))
    assert header == "| source | SDR | SIR | SAR | ISR | SI-SDR | uSDR | Peak |"

    compare_runs([tmp_path / "run"], tmp_path / "comparison")
    assert "median Peak" in (tmp_path / "comparison" / "compare-peak.md").read_text()


def test_bsseval_refuses_a_device_that_is_not_here_in_one_line():
    from gansep.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^BSSEval device: expected a torch device .*'gpu0'"):
        BSSEval(backend="torch", device="gpu0")
    assert BSSEval(backend="torch", device="cpu").device == "cpu"


def test_torch_batches_of_tracks_score_as_each_track_alone(rng):
    from gansep.eval.evaluate import score_tracks
    from gansep.eval.metrics import TrackAudio
    from gansep.eval.bsseval import length_buckets
    rate = 8000
    tracks = []
    for seconds in (3, 3.5, 4, 7):
        n = int(seconds * rate)
        references = rng.standard_normal((2, 2, n))
        estimates = references + 0.3 * rng.standard_normal((2, 2, n))
        tracks.append(TrackAudio(references, estimates, rate, ["vocals", "accompaniment"]))
    together = score_tracks(tracks, standard_metrics(backend="torch", batch_tracks=8))
    alone = [score_tracks([t], standard_metrics(backend="torch", batch_tracks=1))[0]
             for t in tracks]
    for a, b in zip(together, alone):
        for fa, fb in zip(a["targets"], b["targets"]):
            for x, y in zip(fa["frames"], fb["frames"]):
                for m in ("SDR", "ISR", "SIR", "SAR"):
                    assert abs(x["metrics"][m] - y["metrics"][m]) < 1e-9
    lengths = [3, 3.5, 4, 7]
    groups = length_buckets(lengths, ratio=1.25, size=8)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3]
    assert all(max(lengths[i] for i in g) <= 1.25 * min(lengths[i] for i in g) for g in groups)
    assert [3] in [list(g) for g in groups]  # 7 s shares a bucket with none
    with pytest.raises(ConfigError, match="batch_tracks"):
        BSSEval(batch_tracks=0)


def test_an_estimate_equal_to_its_reference_is_refused(rng):
    from gansep.eval.evaluate import score_tracks
    from gansep.eval.metrics import TrackAudio

    rate = 8000
    references = rng.standard_normal((2, 2, 3 * rate))
    noisy = references + 0.3 * rng.standard_normal(references.shape)
    whole = noisy.copy()
    whole[0] = references[0]  # the vocals scored against themselves
    frame = noisy.copy()
    frame[1, :, rate:2 * rate] = references[1, :, rate:2 * rate]  # one frame of the rest
    scored, refused, framewise = score_tracks(
        [TrackAudio(references, e, rate, ["vocals", "accompaniment"])
         for e in (noisy, whole, frame)])
    assert isinstance(scored, dict)
    # refused before BSSEval runs (no frame counted)
    assert isinstance(refused, TrackError) and str(refused).startswith("vocals: SDR is infinite:")
    assert isinstance(framewise, TrackError)
    assert str(framewise).startswith("accompaniment: SDR is infinite in 1 frame(s)")


def numpy_global_sdr(reference, estimate):
    """The MDX challenge's formula, written out: one energy ratio per source and track,
    1e-7 added to both energies."""
    delta = 1e-7
    num = np.sum(np.square(reference)) + delta
    den = np.sum(np.square(reference - estimate)) + delta
    return 10 * np.log10(num / den)


def test_global_sdr_is_the_mdx_challenge_formula(rng):
    references = rng.standard_normal((2, 2, 8000)).astype(np.float32)
    estimates = references + 0.1 * rng.standard_normal((2, 2, 8000)).astype(np.float32)
    values = GlobalSDR()(TrackAudio(references, estimates, RATE))["uSDR"]
    for value, reference, estimate in zip(values, references.astype(np.float64),
                                          estimates.astype(np.float64)):
        assert value == pytest.approx(numpy_global_sdr(reference, estimate), abs=1e-6)
    assert values == pytest.approx([20.0, 20.0], abs=0.2)
    # silence against silence: the epsilon makes it 0 dB, finite, as the challenge scores it
    assert global_sdr(np.zeros((2, 100)), np.zeros((2, 100))) == 0.0
    assert "uSDR" in {name for metric in standard_metrics() for name in metric.names}


def test_a_result_without_usdr_is_scored_again_on_resume(toy_root, tmp_path):
    """A result an older gansep stored (no uSDR) is scored again when the run resumes; the
    others are kept as they are: one table never mixes tracks with and without a metric."""
    from gansep.eval.evaluate import score_folders

    estimates = tmp_path / "estimates"
    for track in sorted((toy_root / "test").iterdir()):
        mixture = read_audio(track / "mixture.wav")[0]
        for source in ("vocals", "accompaniment"):
            write_audio(estimates / track.name / f"{source}.wav", mixture / 2, 22050)
    out = tmp_path / "scored"
    score_folders(toy_root / "test", estimates, out)
    results = sorted((out / "test").glob("*.json"))
    old = json.loads(results[0].read_text())
    for target in old["targets"]:
        del target["uSDR"]
    results[0].write_text(json.dumps(old))
    kept = results[1].stat().st_mtime_ns
    score_folders(toy_root / "test", estimates, out)
    assert all("uSDR" in t for t in json.loads(results[0].read_text())["targets"])
    assert results[1].stat().st_mtime_ns == kept
    assert "uSDR" in (out / "results.md").read_text()
