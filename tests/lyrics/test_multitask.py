"""Multi-task training: lyrics annotations in samples, stems and lyrics-only data in one run,
with the reconstruction and adversarial objectives."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from gansep.data import SeparationData, StemsFolder
from gansep.data.audio import read_audio, write_audio
from gansep.data.jamendo import JamendoLyrics
from gansep.data.lyrics import LyricLine, vocabulary, write_lines
from gansep.data.sampling import ExcerptSpec, LyricsBatch, TrainingExcerpts, collate_excerpts
from gansep.eval.transcribe import transcribe
from gansep.losses import L1, Lyrics, Objective
from gansep.models.lyrics import LyricsWaveUNet

LINES = [LyricLine(0.3, 1.1, "la la"), LyricLine(1.4, 2.6, "sing a song"),
         LyricLine(2.8, 2.95, "oh")]


def lyrics_model(**overrides) -> LyricsWaveUNet:
    args = dict(channels=2, sample_rate=8000, levels=6, extra_filters=4, down_kernel=5,
                up_kernel=3, output_length=8000, lyrics_hidden=8)
    args.update(overrides)
    return LyricsWaveUNet(**args)


@pytest.fixture(scope="module")
def lyrics_data(toy_root, tmp_path_factory):
    """The toy stems with lyrics lines on every track, and a JamendoLyrics-layout folder of
    two lyrics-only songs (mixtures of the toy tracks)."""
    root = tmp_path_factory.mktemp("lyrics")
    stems = root / "stems"
    shutil.copytree(toy_root, stems)
    for track in stems.glob("*/*"):
        write_lines(track / "lyrics_lines.csv", LINES)
    jamendo = root / "jamendo"
    rows = ["Filepath,Language"]
    for i, track in enumerate(sorted((toy_root / "train").iterdir())[:2]):
        audio, rate = read_audio(track / "mixture.wav")
        write_audio(jamendo / "mp3" / f"song{i}.wav", audio, rate)
        write_lines(jamendo / "annotations" / "lines" / f"song{i}.csv", LINES)
        (jamendo / "annotations" / "words").mkdir(parents=True, exist_ok=True)
        (jamendo / "annotations" / "words" / f"song{i}.csv").write_text(
            "word_start,word_end,line_end\n")
        (jamendo / "lyrics").mkdir(exist_ok=True)
        (jamendo / "lyrics" / f"song{i}.txt").write_text("\n".join(l.text for l in LINES))
        rows.append(f"song{i}.wav,English")
    (jamendo / "JamendoLyrics.csv").write_text("\n".join(rows) + "\n")
    return {"stems": stems, "jamendo": jamendo}


def test_samples_carry_the_lines_of_their_window(lyrics_data):
    model = lyrics_model()
    spec = ExcerptSpec.of(model)
    assert spec.vocabulary == "english"
    tracks = StemsFolder(lyrics_data["stems"]).tracks("train")
    assert tracks[0].lines == LINES
    dataset = TrainingExcerpts(tracks, spec, seed=3)
    encode = vocabulary("english").encode
    for index in range(6):
        mixture, sources, lyrics = dataset[index]
        assert lyrics.stems and lyrics.lines is not None
        rng = np.random.default_rng((3, index))
        _, start = dataset._draw(rng)
        window = (start + spec.context_left) / spec.sample_rate
        expected = [(l.start - window, l.end - window, tuple(encode(l.text))) for l in LINES
                    if l.end > window and l.start < window + 1.0]
        assert [line[2] for line in lyrics.lines] == [line[2] for line in expected]
        assert [line[:2] for line in lyrics.lines] == [pytest.approx(line[:2])
                                                       for line in expected]
    batch = collate_excerpts([dataset[0], dataset[1]])
    assert isinstance(batch.auxiliary, LyricsBatch) and batch.mixture.shape[0] == 2
    assert batch.auxiliary.stems.tolist() == [True, True] and batch.unpaired is None


def test_lyrics_only_songs_have_mixtures_and_no_targets(lyrics_data):
    model = lyrics_model()
    songs = JamendoLyrics(lyrics_data["jamendo"], split="train").tracks("train")
    assert [s.has_stems for s in songs] == [False, False]
    mixture, sources, lyrics = TrainingExcerpts(songs, ExcerptSpec.of(model), seed=0)[0]
    assert not lyrics.stems and float(mixture.abs().sum()) > 0
    assert float(sources.abs().sum()) == 0


@pytest.mark.parametrize("module", ["separator", "gan"])
def test_a_run_mixes_stems_and_lyrics_only_data(lyrics_data, module, tmp_path):
    from gansep.losses import GAN, LSGAN
    from gansep.models.discriminators import MultiScale
    from gansep.training import GANSeparator, Separator

    pl.seed_everything(0)
    model = lyrics_model()
    if module == "gan":
        objective = Objective([L1()], GAN(MultiScale(scales=1, channels=4),
                                          LSGAN()), lyrics=Lyrics(0.5))
        lightning = GANSeparator(model, objective, warmup_steps=0)
    else:
        lightning = Separator(model, Objective([L1()], lyrics=Lyrics(0.5)))
    data = SeparationData(StemsFolder(lyrics_data["stems"]), batch_size=4,
                          excerpts_per_epoch=8, valid_excerpts_per_track=2,
                          lyrics=JamendoLyrics(lyrics_data["jamendo"], split="train"))
    logged = {}

    class Keep(pl.Callback):
        def on_train_batch_end(self, trainer, *_):
            logged.update({k: float(v) for k, v in trainer.callback_metrics.items()})

    trainer = pl.Trainer(max_steps=4, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         callbacks=[Keep()], limit_val_batches=1, default_root_dir=tmp_path)
    before = model.lyrics_head.classes.weight.detach().clone()
    trainer.fit(lightning, data)
    assert np.isfinite(logged["train/lyrics"]) and logged["train/lyrics"] > 0
    assert np.isfinite(logged["train/l1"])
    assert not torch.equal(before, model.lyrics_head.classes.weight)
    assert 0 <= trainer.callback_metrics["val/cer"] <= 5


def test_a_lyrics_term_needs_a_lyrics_head():
    from gansep.errors import ConfigError
    from gansep.models.waveunet import WaveUNet

    with pytest.raises(ConfigError, match="no lyrics head"):
        Objective([L1()], lyrics=Lyrics()).bind(WaveUNet(levels=3, extra_filters=4,
                                                         output_length=256))


@pytest.mark.slow
def test_evaluate_export_and_transcribe_a_multitask_model(lyrics_data, tmp_path):
    """A multi-task checkpoint: evaluate reports CER/WER on the annotated lines, export
    carries the head and its vocabulary, transcribe prints the text and word times."""
    import json
    import subprocess
    import sys

    from gansep.eval.evaluate import evaluate_checkpoint
    from gansep.export import export_separator, generator_from_checkpoint, load_separator
    from gansep.training import Separator

    pl.seed_everything(0)
    model = lyrics_model(vocabulary="french")
    lightning = Separator(model, Objective([L1()], lyrics=Lyrics(1.0)))
    data = SeparationData(StemsFolder(lyrics_data["stems"]), batch_size=2,
                          excerpts_per_epoch=2, valid_excerpts_per_track=1)
    trainer = pl.Trainer(max_steps=1, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         limit_val_batches=0, default_root_dir=tmp_path)
    trainer.fit(lightning, data)
    trainer.save_checkpoint(tmp_path / "multitask.ckpt")
    generator, _ = generator_from_checkpoint(tmp_path / "multitask.ckpt")
    assert isinstance(generator, LyricsWaveUNet) and len(generator.vocabulary) == 45

    assert evaluate_checkpoint(tmp_path / "multitask.ckpt", StemsFolder(lyrics_data["stems"]),
                               tmp_path / "eval") == 0
    result = json.loads(next((tmp_path / "eval" / "test").glob("*.json")).read_text())
    lyrics = result["gansep_lyrics"]
    assert lyrics["lines"] == 3 and lyrics["chars"] == len("la la") + len("sing a song") + 2
    assert lyrics["CER"] == lyrics["char_edits"] / lyrics["chars"]
    assert "Lyrics head (greedy CTC decoding" in (tmp_path / "eval" / "results.md").read_text()
    # The same through the lyrics run config (gansep evaluate --config configs/demo-lyrics.yaml).
    from pathlib import Path

    from gansep.cli import evaluate as evaluate_command

    root = Path(__file__).resolve().parents[2]
    assert evaluate_command.main([
        "--ckpt", str(tmp_path / "multitask.ckpt"), "--config",
        str(root / "configs" / "demo-lyrics.yaml"), "--data.collection.init_args.root",
        str(lyrics_data["stems"]), "--out", str(tmp_path / "by-config")]) == 0
    for path in sorted((tmp_path / "eval" / "test").glob("*.json")):
        by_config = json.loads((tmp_path / "by-config" / "test" / path.name).read_text())
        assert by_config["targets"] == json.loads(path.read_text())["targets"]
        assert by_config["gansep_lyrics"] == json.loads(path.read_text())["gansep_lyrics"]

    # compare: SDR per objective, and the head's CER/WER summed over each objective's runs.
    from gansep.experiments.compare import compare_runs

    for name, weight in (("a", 0.0), ("b", 1.0)):
        shutil.copytree(tmp_path / "eval", tmp_path / "runs" / name / "results")
        (tmp_path / "runs" / name / "params.json").write_text(json.dumps({
            "model.init_args.objective": "configs/objectives/l1+lyrics.yaml",
            "model.init_args.objective.init_args.lyrics.init_args.weight": weight}))
    report = compare_runs([tmp_path / "runs" / "a", tmp_path / "runs" / "b"],
                          tmp_path / "comparison")
    table = (tmp_path / "comparison" / "compare-lyrics.md").read_text()
    entries = [json.loads(p.read_text())["gansep_lyrics"]
               for p in (tmp_path / "eval" / "test").glob("*.json")]
    cer = 100 * sum(e["char_edits"] for e in entries) / sum(e["chars"] for e in entries)
    lines = sum(e["lines"] for e in entries)
    assert f"| l1+lyrics lyrics=0.0 | 1 | {lines} | {cer:.1f} |" in table
    assert "l1+lyrics lyrics=1.0" in table and "Lyrics head" in report

    export_separator(tmp_path / "multitask.ckpt", tmp_path / "export")
    assert (tmp_path / "export" / "vocabulary.characters").is_file()
    separator = load_separator(tmp_path / "export")
    audio, rate = read_audio(next((lyrics_data["stems"] / "test").iterdir()) / "mixture.wav")
    transcript = transcribe(separator, audio, rate)
    duration = audio.shape[-1] / rate
    times = transcript["times"]
    assert len(times) == pytest.approx(duration * separator.generator.frame_rate, abs=2)
    assert float(times[0]) >= 0 and float(times[-1]) < duration
    assert transcript["log_probs"].shape == (len(times), 45)
    assert all(0 <= start <= end <= duration + 0.1 for _, start, end in transcript["words"])
    printed = subprocess.run(
        [sys.executable, "-m", "gansep.cli.main", "transcribe", "--model",
         str(tmp_path / "export"), "--words", str(next((lyrics_data["stems"] / "test")
                                                       .iterdir()) / "mixture.wav")],
        capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr
    assert "mixture.wav: " in printed.stdout
