"""Lyrics-to-audio alignment: Viterbi over the CTC topology against brute force, known
alignments recovered, the JamendoLyrics metrics by hand and on the real sample, and the
commands end to end."""

from __future__ import annotations

import csv
import itertools
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from gansep.data.lyrics import LyricWord, read_lines, read_words, vocabulary, write_words
from gansep.eval.align import (AlignmentError, align, ctc_viterbi, lyrics_lines,
                               minimum_frames, tokenise)
from gansep.eval.alignment_metrics import onset_errors, score_alignments, song_scores
from gansep.eval.transcribe import collapse

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "jamendolyrics-sample"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"{SAMPLE} is absent (the team's "
                                  "shared data sits beside the project root in CI only)")


def state_classes(path, labels):
    """The class of each state of a path (blanks at even states)."""
    return [0 if s % 2 == 0 else int(labels[(s - 1) // 2]) for s in path]


def brute_force(log_probs, labels):
    """The best score over every frame labelling that collapses to ``labels``."""
    frames, classes = log_probs.shape
    best = -np.inf
    for path in itertools.product(range(classes), repeat=frames):
        if collapse(path) == list(labels):
            best = max(best, sum(log_probs[t, c] for t, c in enumerate(path)))
    return best


def test_viterbi_equals_brute_force_on_tiny_posteriors():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(60):
        frames, length = int(rng.integers(2, 7)), int(rng.integers(1, 4))
        labels = rng.integers(1, 3, size=length)  # two characters: repeats are frequent
        log_probs = np.log(rng.dirichlet(np.ones(3), size=frames))
        best = brute_force(log_probs, labels)
        if frames < minimum_frames(labels):
            assert best == -np.inf
            with pytest.raises(AlignmentError, match="characters need at least"):
                ctc_viterbi(log_probs, labels)
            continue
        for block in (1, 2, 3, 64):  # every block size traces the same best path
            path = ctc_viterbi(log_probs, labels, block)
            classes = state_classes(path, labels)
            assert collapse(classes) == list(labels)
            assert np.all(np.diff(path) >= 0) and np.all(np.diff(path) <= 2)
            assert log_probs[np.arange(frames), classes].sum() == pytest.approx(best, abs=1e-9)
        checked += 1
    assert checked > 30


def synthetic_posteriors(classes, rng, sharpness=4.0, size=30):
    """Log-posteriors that favour ``classes`` frame by frame, with noise."""
    logits = rng.normal(0, 1, (len(classes), size))
    logits[np.arange(len(classes)), classes] += sharpness
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def test_a_known_alignment_is_recovered_through_instrumental_and_non_lexical_stretches():
    vocab = vocabulary("english")
    lines = [["hello", "world"], ["sing", "along"]]
    tokens = tokenise(lines, vocab)
    rng = np.random.default_rng(1)
    classes, onsets = [0] * 40, []  # an instrumental intro: blanks
    for k, label in enumerate(tokens.labels):
        if k and tokens.word_of[k] >= 0 and tokens.word_of[k - 1] < 0 or k == 0:
            onsets.append(len(classes))
        classes += [int(label)] * 2 + [0] * 2
        if k == 9:  # after "hello world": a break of non-lexical singing ("ooh", unlisted)
            classes += [vocab.index["o"]] * 6 + [0] * 30 + [vocab.index["h"]] * 4 + [0] * 10
    classes += [0] * 25
    times = np.arange(len(classes)) / 20.0
    aligned = align(synthetic_posteriors(classes, rng), times, lines, vocab)
    starts = [w.start for w in aligned.words]
    assert starts == pytest.approx([times[o] - 0.025 for o in onsets], abs=1e-9)
    assert [w.line_end is not None for w in aligned.words] == [False, True, False, True]
    assert [line.text for line in aligned.lines] == ["hello world", "sing along"]
    assert aligned.lines[0].end == aligned.words[1].end and aligned.lines[1].start == starts[2]


def test_repeated_characters_need_a_blank_between_them():
    vocab = vocabulary("english")
    labels = tokenise([["all"]], vocab).labels
    assert minimum_frames(labels) == 4  # a, l, blank, l
    rng = np.random.default_rng(2)
    # The posteriors say "al" then one long "l": the path must still fit two l's apart.
    classes = [vocab.index["a"], vocab.index["l"], vocab.index["l"], vocab.index["l"], 0]
    path = ctc_viterbi(synthetic_posteriors(classes, rng), labels)
    assert collapse(state_classes(path, labels)) == list(labels)
    assert 0 in state_classes(path, labels)[2:4]
    with pytest.raises(AlignmentError, match="3 characters need at least 4 frames"):
        ctc_viterbi(synthetic_posteriors(classes[:3], rng), labels)


def test_empty_lines_and_words_outside_the_vocabulary():
    vocab = vocabulary("english")
    text = "\n\nla la\n\n\n   \nsing -- song\n"
    lines = lyrics_lines(text)
    assert lines == [["la", "la"], ["sing", "--", "song"]]
    tokens = tokenise(lines, vocab)
    assert vocab.decode(tokens.labels) == "la la sing song"  # "--" has no character
    assert list(tokens.word_of) == [0, 0, -1, 1, 1, -1, 2, 2, 2, 2, -1, 4, 4, 4, 4]
    rng = np.random.default_rng(3)
    classes = [0] * 5 + [c for label in tokens.labels for c in (int(label), 0)] + [0] * 5
    aligned = align(synthetic_posteriors(classes, rng), np.arange(len(classes)) * 0.05,
                    lines, vocab)
    assert len(aligned.words) == 5
    dashes = aligned.words[3]
    assert dashes.start == dashes.end == aligned.words[2].end  # no frames: where "sing" ends
    assert all(a.start <= b.start for a, b in zip(aligned.words, aligned.words[1:]))
    with pytest.raises(AlignmentError, match="no word"):
        align(synthetic_posteriors(classes, rng), np.arange(len(classes)) * 0.05, [], vocab)


def test_metrics_against_hand_computed_values():
    reference = np.array([1.0, 2.0, 3.0, 4.0])
    errors = onset_errors(reference, np.array([1.1, 1.5, 3.0, 4.35]))
    assert errors == pytest.approx([0.1, -0.5, 0.0, 0.35])
    scores = song_scores(errors, tolerance=0.3)
    assert scores == pytest.approx({"words": 4, "mean_abs_error": 0.2375,
                                    "median_abs_error": 0.225, "percent_correct_onsets": 50.0})
    # A delay shifts the predictions; onsets shifted before 0 are kept at 0, as in the
    # dataset's script.
    assert onset_errors(np.array([0.05, 1.0]), np.array([0.1, 1.0]), delay=-0.2) == \
        pytest.approx([-0.05, -0.2])


def write_song_words(folder: Path, song: str, starts) -> None:
    write_words(folder / f"{song}.csv", [LyricWord(s, s + 0.1, None) for s in starts])


def test_overall_row_averages_over_songs_and_files_are_written(tmp_path):
    reference = tmp_path / "ref" / "annotations" / "words"
    predictions = tmp_path / "pred"
    write_song_words(reference, "a", [1.0, 2.0])
    write_song_words(reference, "b", [1.0, 2.0, 3.0, 4.0])
    write_song_words(predictions, "a", [1.0, 3.0])  # errors 0, 1
    write_song_words(predictions, "b", [1.2, 2.2, 3.2, 4.2])  # errors 0.2 each
    rows = score_alignments(tmp_path / "ref", predictions, tmp_path / "out")
    with open(tmp_path / "out" / "alignment.csv") as file:
        table = list(csv.DictReader(file))
    assert [r["song"] for r in table] == ["a", "b", "all"]
    assert list(table[0]) == ["song", "words", "mean_abs_error", "median_abs_error",
                              "percent_correct_onsets"]
    assert float(table[2]["mean_abs_error"]) == pytest.approx((0.5 + 0.2) / 2)
    assert float(table[2]["median_abs_error"]) == pytest.approx((0.5 + 0.2) / 2)
    assert float(table[2]["percent_correct_onsets"]) == pytest.approx((50 + 100) / 2)
    assert table[2]["words"] == "6" and rows[-1]["song"] == "all"
    assert (tmp_path / "out" / "alignment-tolerance.png").stat().st_size > 1000
    assert "| all | 6 | 0.350 | 0.350 | 75.0 |" in (tmp_path / "out" / "alignment.md").read_text()


@needs_sample
@pytest.mark.parametrize("shift, mean, within", [(0.0, 0.0, 100.0), (0.2, 0.2, 100.0),
                                                 (0.5, 0.5, 0.0)])
def test_the_real_sample_against_itself_and_shifted(tmp_path, shift, mean, within):
    predictions = tmp_path / "pred"
    for path in (SAMPLE / "annotations" / "words").glob("*.csv"):
        write_words(predictions / path.name, [LyricWord(w.start + shift, w.end + shift,
                                                        w.line_end) for w in read_words(path)])
    rows = score_alignments(SAMPLE, predictions, tmp_path / "out")
    assert [r["song"] for r in rows] == ["Fantasma_-_Los_Rombos",
                                         "de_bonne_humeur_-_Le_Nez_Tordu", "all"]
    assert [r["words"] for r in rows] == [88, 266, 354]
    for row in rows:
        assert row["mean_abs_error"] == pytest.approx(mean, abs=1e-6)
        assert row["median_abs_error"] == pytest.approx(mean, abs=1e-6)
        assert row["percent_correct_onsets"] == within
    # --delay undoes a constant lag.
    if shift:
        rows = score_alignments(SAMPLE, predictions, tmp_path / "back", delay=-shift)
        assert rows[-1]["mean_abs_error"] == pytest.approx(0.0, abs=1e-6)


@pytest.fixture(scope="module")
def lyrics_export(tmp_path_factory):
    """A small multi-task separator trained a few steps on sung toy tracks, exported."""
    import pytorch_lightning as pl

    from gansep.data import SeparationData, StemsFolder
    from gansep.data.lyrics import LyricLine, write_lines
    from gansep.data.toy import make_toy_dataset
    from gansep.export import write_separator
    from gansep.losses import L1, Lyrics, Objective
    from gansep.models.lyrics import LyricsWaveUNet
    from gansep.training import Separator

    root = tmp_path_factory.mktemp("align")
    make_toy_dataset(root / "toy", seed=0, sample_rate=8000, duration=3.0,
                     tracks={"train": 2, "valid": 1, "test": 1})
    for track in (root / "toy").glob("*/*"):
        write_lines(track / "lyrics_lines.csv", [LyricLine(0.2, 1.4, "un beso que no")])
    pl.seed_everything(0)
    model = LyricsWaveUNet(channels=2, sample_rate=8000, levels=6, extra_filters=4,
                           down_kernel=5, up_kernel=3, output_length=8000, lyrics_hidden=8,
                           vocabulary="international")
    module = Separator(model, Objective([L1()], lyrics=Lyrics(1.0)))
    trainer = pl.Trainer(max_steps=3, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         limit_val_batches=0)
    trainer.fit(module, SeparationData(StemsFolder(root / "toy"), batch_size=2,
                                       excerpts_per_epoch=6))
    write_separator(module.generator, root / "export")
    return root / "export"


@pytest.mark.slow
@needs_sample
def test_align_a_real_song_end_to_end(lyrics_export, tmp_path):
    from gansep.cli.main import main

    if shutil.which("ffmpeg") is None:
        pytest.skip("reading the sample's mp3 needs ffmpeg on PATH")
    song = "Fantasma_-_Los_Rombos"
    out, lines_out = tmp_path / "words.csv", tmp_path / "lines.csv"
    assert main(["align", "--model", str(lyrics_export), str(SAMPLE / "mp3" / f"{song}.mp3"),
                 str(SAMPLE / "lyrics" / f"{song}.txt"), "--out", str(out),
                 "--lines", str(lines_out)]) == 0
    words = read_words(out)
    reference = read_words(SAMPLE / "annotations" / "words" / f"{song}.csv")
    assert len(words) == len(reference) == 88
    assert all(w.start <= w.end for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))  # in the lyrics' order
    text_lines = lyrics_lines((SAMPLE / "lyrics" / f"{song}.txt").read_text())
    lines = read_lines(lines_out)
    assert [line.text for line in lines] == [" ".join(line) for line in text_lines]
    assert sum(w.line_end is not None for w in words) == len(lines)
    # Scoring it runs; the accuracy of a 3-step model is not asserted.
    predictions = tmp_path / "pred"
    predictions.mkdir()
    shutil.copyfile(out, predictions / f"{song}.csv")
    reference_root = tmp_path / "ref" / "annotations" / "words"
    reference_root.mkdir(parents=True)
    shutil.copyfile(SAMPLE / "annotations" / "words" / f"{song}.csv",
                    reference_root / f"{song}.csv")
    rows = score_alignments(tmp_path / "ref", predictions, tmp_path / "score")
    assert rows[-1]["words"] == 88 and 0 <= rows[-1]["percent_correct_onsets"] <= 100


def test_evaluate_alignment_resumes_and_refuses_another_models_predictions(
        lyrics_export, tmp_path, caplog):
    from gansep.cli.main import main
    from gansep.data.lyrics import LyricLine, write_lines
    from gansep.data.toy import make_toy_dataset

    make_toy_dataset(tmp_path / "data", seed=1, sample_rate=8000, duration=3.0,
                     tracks={"test": 2})
    tracks = sorted((tmp_path / "data" / "test").iterdir())
    for track in tracks:
        (track / "lyrics.txt").write_text("la la\nsing a song\n")
        write_lines(track / "lyrics_lines.csv", [LyricLine(0.3, 1.0, "la la"),
                                                 LyricLine(1.2, 2.5, "sing a song")])
        write_words(track / "lyrics_words.csv", [LyricWord(s, s + 0.2, None)
                                                 for s in (0.3, 0.7, 1.2, 1.6, 2.0)])
    out = tmp_path / "out"
    args = ["evaluate-alignment", "--model", str(lyrics_export), "--data",
            str(tmp_path / "data" / "test"), "--out", str(out)]
    assert main(args) == 0
    table = (out / "alignment.csv").read_text().splitlines()
    assert table[0] == "song,words,mean_abs_error,median_abs_error,percent_correct_onsets"
    assert [row.split(",")[0] for row in table[1:]] == [t.name for t in tracks] + ["all"]
    first = (out / "predictions" / f"{tracks[0].name}.csv").stat().st_mtime_ns
    (out / "predictions" / f"{tracks[1].name}.csv").unlink()  # as if killed before it
    caplog.set_level(logging.INFO, logger="gansep")
    caplog.clear()
    assert main(args) == 0
    assert f"{tracks[0].name}: aligned before, skipped" in caplog.text
    assert f"{tracks[1].name}: aligned" in caplog.text
    assert (out / "predictions" / f"{tracks[0].name}.csv").stat().st_mtime_ns == first
    manifest = json.loads((out / "alignment.json").read_text())
    (out / "alignment.json").write_text(json.dumps({**manifest, "model": "another"}))
    assert main(args) == 2
    assert "came from another model" in caplog.text
    assert (out / "predictions" / f"{tracks[0].name}.csv").stat().st_mtime_ns == first


def test_evaluate_alignment_takes_a_run_config(lyrics_export, tmp_path):
    """--config RUN.yaml [--key value]: the run's collection's tracks with word timings are
    aligned and scored as --data aligns them."""
    from gansep.cli.main import main
    from gansep.data.lyrics import LyricLine, write_lines
    from gansep.data.toy import make_toy_dataset

    make_toy_dataset(tmp_path / "data", seed=1, sample_rate=8000, duration=3.0,
                     tracks={"test": 2})
    for track in sorted((tmp_path / "data" / "test").iterdir()):
        (track / "lyrics.txt").write_text("la la\nsing a song\n")
        write_lines(track / "lyrics_lines.csv", [LyricLine(0.3, 1.0, "la la"),
                                                 LyricLine(1.2, 2.5, "sing a song")])
        write_words(track / "lyrics_words.csv", [LyricWord(s, s + 0.2, None)
                                                 for s in (0.3, 0.7, 1.2, 1.6, 2.0)])
    root = Path(__file__).resolve().parents[2]
    common = ["evaluate-alignment", "--model", str(lyrics_export)]
    assert main([*common, "--data", str(tmp_path / "data"), "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--config", str(root / "configs" / "demo-lyrics.yaml"),
                 "--data.collection.init_args.root", str(tmp_path / "data"),
                 "--out", str(tmp_path / "b")]) == 0
    assert ((tmp_path / "a" / "alignment.csv").read_text()
            == (tmp_path / "b" / "alignment.csv").read_text())
    manifest = json.loads((tmp_path / "b" / "alignment.json").read_text())
    assert manifest["data"]["class"] == "gansep.data.folder.StemsFolder"
    assert main([*common, "--config", str(root / "configs" / "demo-lyrics.yaml"),
                 "--data.collection.init_args.root", str(tmp_path / "data"), "--split",
                 "train", "--out", str(tmp_path / "c")]) == 2  # no train track has timings
