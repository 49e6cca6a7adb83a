"""gansep evaluate and gansep score: museval-format files, aggregation, resume, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import pytorch_lightning as pl
import soundfile as sf
import torch

from gansep.data import SeparationData, StemsFolder
from gansep.eval.si_sdr import si_sdr
from gansep.training import Separator
from tests.cli.test_cli import ROOT
from tests.conftest import tiny_generator


pytestmark = pytest.mark.slow  # end-to-end: commands on real files, trained models, processes

@pytest.fixture(scope="module")
def checkpoint(toy_root, tmp_path_factory):
    pl.seed_everything(0)
    module = Separator(tiny_generator(output_length=2048),
                       optimizer=lambda p: torch.optim.Adam(p, lr=3e-3))
    data = SeparationData(StemsFolder(toy_root), batch_size=4, excerpts_per_epoch=24)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(module, data)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    trainer.save_checkpoint(path)
    return path


def test_evaluate_writes_museval_results_and_resumes(cli, checkpoint, toy_root, tmp_path):
    out = tmp_path / "eval"
    cli(["evaluate", "--ckpt", str(checkpoint), "--data", str(toy_root), "--out", str(out),
         "--write-estimates"], tmp_path)
    files = sorted((out / "test").glob("*.json"))
    assert [f.stem for f in files] == ["toy-test-000", "toy-test-001"]
    assert (out / "estimates" / "toy-test-000" / "vocals.wav").is_file()
    # museval's own aggregation reads the folder and agrees with our table.
    import museval

    store = museval.EvalStore()
    store.add_eval_dir(out)
    expected = store.agg_frames_tracks_scores()
    table = (out / "results.csv").read_text().splitlines()
    assert table[0] == "source,SDR,SIR,SAR,ISR,SI-SDR,uSDR"
    ours = {line.split(",")[0]: [float(v) for v in line.split(",")[1:]] for line in table[1:]}
    for source in ("vocals", "accompaniment"):
        assert ours[source][0] == pytest.approx(expected.loc[(source, "SDR")], abs=1e-4)
    # SI-SDR of the whole track, stored beside museval's frames: the median over tracks of
    # each JSON's value, and each value that of the written estimates.
    per_track = {source: [] for source in ("vocals", "accompaniment")}
    for path in files:
        for target in json.loads(path.read_text())["targets"]:
            per_track[target["name"]].append(target["SI-SDR"])
    reference = sf.read(toy_root / "test" / "toy-test-000" / "vocals.wav")[0].T
    estimate = sf.read(out / "estimates" / "toy-test-000" / "vocals.wav")[0].T
    assert per_track["vocals"][0] == pytest.approx(si_sdr(reference, estimate),
                                                   abs=1e-3)  # 16-bit estimate file
    for source, values in per_track.items():
        assert ours[source][4] == pytest.approx(np.median(values), abs=1e-4)
    assert "| vocals |" in (out / "results.md").read_text()
    # Resume: a finished track is not redone, a missing one is.
    kept = files[0].stat().st_mtime_ns
    files[1].unlink()
    cli(["evaluate", "--ckpt", str(checkpoint), "--data", str(toy_root), "--out", str(out)],
        tmp_path)
    assert files[0].stat().st_mtime_ns == kept and files[1].is_file()


def test_score_other_systems_outputs(cli, checkpoint, toy_root, tmp_path):
    out = tmp_path / "eval"
    cli(["evaluate", "--ckpt", str(checkpoint), "--data", str(toy_root), "--out", str(out),
         "--write-estimates"], tmp_path)
    scored = tmp_path / "scored"
    # Estimates as FLAC: any format soundfile reads.
    flac = tmp_path / "flac"
    for wav in (out / "estimates").glob("*/*.wav"):
        audio, rate = sf.read(wav)
        (flac / wav.parent.name).mkdir(parents=True, exist_ok=True)
        sf.write(flac / wav.parent.name / f"{wav.stem}.flac", audio, rate, subtype="PCM_24")
    cli(["score", str(toy_root / "test"), str(flac), "--out", str(scored)], tmp_path)
    for name in ("toy-test-000", "toy-test-001"):
        ours = json.loads((scored / "test" / f"{name}.json").read_text())
        theirs = json.loads((out / "test" / f"{name}.json").read_text())
        theirs = {t["name"]: t for t in theirs["targets"]}
        assert sorted(t["name"] for t in ours["targets"]) == sorted(theirs)
        for a in ours["targets"]:
            sdr_a = [f["metrics"]["SDR"] for f in a["frames"]]
            sdr_b = [f["metrics"]["SDR"] for f in theirs[a["name"]]["frames"]]
            np.testing.assert_allclose(np.array(sdr_a, float), np.array(sdr_b, float), atol=0.01)


def test_bad_checkpoints(cli, tmp_path, toy_root, checkpoint):
    args = ["--data", str(toy_root), "--out", str(tmp_path / "o")]
    out = cli(["evaluate", "--ckpt", str(tmp_path / "missing.ckpt"), *args], tmp_path,
              check=False)
    assert out.returncode == 2 and "missing.ckpt: no such checkpoint file" in out.stderr
    assert "Traceback" not in out.stderr
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    out = cli(["evaluate", "--ckpt", str(garbage), *args], tmp_path, check=False)
    assert out.returncode == 2 and "garbage.ckpt: not a readable checkpoint" in out.stderr
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(checkpoint.read_bytes()[:5000])
    out = cli(["evaluate", "--ckpt", str(truncated), *args], tmp_path, check=False)
    assert out.returncode == 2 and "truncated.ckpt: not a readable checkpoint" in out.stderr
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, other)
    out = cli(["evaluate", "--ckpt", str(other), *args], tmp_path, check=False)
    assert out.returncode == 2 and "other.ckpt: not a gansep checkpoint" in out.stderr


def test_bad_tracks_are_reported_and_the_rest_evaluated(cli, checkpoint, toy_root, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(toy_root / "test", data / "test")
    short = data / "test" / "short"
    short.mkdir()
    for stem in ("vocals", "drums", "bass", "other"):
        sf.write(short / f"{stem}.wav", np.full((5000, 2), 0.1, np.float32), 22050)
    silent = data / "test" / "silent"
    silent.mkdir()
    for stem in ("vocals", "drums", "bass", "other"):
        sf.write(silent / f"{stem}.wav", np.zeros((30000, 2), np.float32), 22050)
    out = cli(["evaluate", "--ckpt", str(checkpoint), "--data", str(data), "--out",
               str(tmp_path / "o")], tmp_path, check=False)
    assert out.returncode == 1
    assert "short: 0.23 s of audio is shorter than one 1.0 s evaluation frame" in out.stderr
    assert "silent: all reference sources are silent" in out.stderr
    assert sorted(p.stem for p in (tmp_path / "o" / "test").glob("*.json")) == [
        "toy-test-000", "toy-test-001"]


def test_evaluate_reads_the_collection_of_a_run_config(cli, checkpoint, toy_root, tmp_path):
    """--config RUN.yaml [--key value]: the run's TrackCollection, scored as --data scores it."""
    by_root, by_config = tmp_path / "root", tmp_path / "config"
    cli(["evaluate", "--ckpt", str(checkpoint), "--data", str(toy_root), "--out", str(by_root),
         "--duration", "1"], tmp_path)
    cli(["evaluate", "--ckpt", str(checkpoint), "--config", str(ROOT / "configs" / "demo.yaml"),
         "--data.collection.init_args.root", str(toy_root), "--out", str(by_config),
         "--duration", "1"], tmp_path)
    for path in sorted((by_root / "test").glob("*.json")):
        assert (json.loads(path.read_text())["targets"]
                == json.loads((by_config / "test" / path.name).read_text())["targets"])
    out = cli(["evaluate", "--ckpt", str(checkpoint), "--data", str(toy_root), "--out",
               str(tmp_path / "x"), "--data.collection.init_args.root", str(toy_root)],
              tmp_path, check=False)
    assert out.returncode == 2 and "unrecognized arguments" in out.stderr
