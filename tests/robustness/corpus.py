"""The broken-input corpus the robustness cases run on, built once per session: a tiny toy
dataset, a tiny checkpoint and its export, earlier results, and damaged versions of each
(empty, truncated, header-only, text-as-audio, NaN/Inf, 0 and 1 samples, odd rates and
channel counts, tampered exports and JSON, pickle payloads, bad configurations)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

RATE = 22050
# A config for `gansep fit`: a tiny model, two steps, everything written under the case's
# workspace (the command runs there).
FIT_CONFIG = """\
model:
  class_path: gansep.training.Separator
  init_args:
    generator:
      class_path: gansep.models.WaveUNet
      init_args: {levels: 3, extra_filters: 4, down_kernel: 5, up_kernel: 3, output_length: 256}
data:
  collection: {class_path: gansep.data.StemsFolder, init_args: {root: %s}}
  batch_size: 2
  excerpts_per_epoch: 4
  valid_excerpts_per_track: 1
trainer:
  max_steps: 2
  enable_progress_bar: false
  enable_model_summary: false
  default_root_dir: runs
"""


# What LightningCLI records as a Separator's hyper-parameters (fit.yaml's model).
HYPERPARAMETERS = {
    "_class_path": "gansep.training.Separator",
    "generator": {"class_path": "gansep.models.WaveUNet",
                  "init_args": {"levels": 3, "extra_filters": 4, "down_kernel": 5,
                                "up_kernel": 3, "output_length": 256}},
    "objective": None, "optimizer": None, "lr_scheduler": None,
    "_instantiator": "pytorch_lightning.cli.instantiate_module"}


def hyperparameter_payloads(touch: dict, root: Path) -> dict[str, dict]:
    """Changes to :data:`HYPERPARAMETERS` that would run ``touch`` (``{"command": ...}``);
    ``root`` holds ``subconfig/payload.yaml`` and ``subconfig/payload`` (the same sub-config
    without an ending), which jsonargparse would read when a value is their path."""
    text = "{class_path: os.system, init_args: {command: '%s'}}" % touch["command"]
    return {
        "subconfig-absolute": {"lr_scheduler": str(root / "subconfig" / "payload.yaml")},
        # Relative to the working folder (the case copies subconfig/ there as sub/).
        "subconfig-relative": {"lr_scheduler": "sub/payload"},
        "subconfig-beside": {"optimizer": "../subconfig/payload"},  # beside the checkpoint
        "subconfig-text": {"optimizer": text},
        "subconfig-gan": {"_class_path": "gansep.training.GANSeparator",
                          "discriminator_lr_scheduler": str(root / "subconfig" / "payload")},
        "subconfig-nested": {"objective": {"class_path": "gansep.losses.Objective", "init_args": {
            "reconstruction": [str(root / "subconfig" / "payload")]}}},
        "optimizer": {"optimizer": {"class_path": "os.system", "init_args": touch}},
        "scheduler": {"lr_scheduler": {"class_path": "subprocess.call",
                                       "init_args": {"args": touch["command"].split()}}},
        "module": {"_class_path": "os.system", **touch},
        "nested": {"objective": {"class_path": "gansep.losses.Objective", "init_args": {
            "reconstruction": [{"class_path": "os.system", "init_args": touch}]}}},
        "instantiator": {"_instantiator": "os.system"},
        "callable-name": {"optimizer": "os.system"},
    }


class Payload:
    """A pickle that would create a file if it were ever unpickled with code execution."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _wav(path: Path, audio: np.ndarray, rate: int = RATE, subtype: str = "FLOAT") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, subtype=subtype)


def _reexport(folder: Path, target: Path, edit) -> None:
    """A copy of the export ``folder`` whose description ``edit(config)`` changed, with its
    digest recomputed: a tampered file that passes the integrity checks."""
    from gansep.checkpoints import DIGEST, description_digest

    shutil.copytree(folder, target)
    config = json.loads((target / "separator.json").read_text())
    edit(config)
    config.pop(DIGEST)
    config[DIGEST] = description_digest(config)
    (target / "separator.json").write_text(json.dumps(config))


def build(root: Path) -> Path:
    """Writes the corpus under ``root`` and returns it."""
    import pytorch_lightning as pl

    from gansep.data import SeparationData, StemsFolder
    from gansep.data.toy import make_toy_dataset
    from gansep.eval.evaluate import evaluate_checkpoint
    from gansep.export import write_separator
    from gansep.training import Separator
    from tests.conftest import tiny_generator

    toy = make_toy_dataset(root / "toy", seed=3, duration=1.5,
                           tracks={"train": 2, "valid": 1, "test": 2})
    (root / "fit.yaml").write_text(FIT_CONFIG % (root / "toy"))

    # A checkpoint (A), one with other weights (B) and an export of A.
    pl.seed_everything(0)
    module = Separator(tiny_generator(output_length=512))
    trainer = pl.Trainer(max_steps=2, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(module, SeparationData(StemsFolder(toy), batch_size=2, excerpts_per_epoch=4))
    trainer.save_checkpoint(root / "a.ckpt")
    checkpoint = torch.load(root / "a.ckpt", weights_only=True)
    for value in checkpoint["state_dict"].values():
        value.add_(0.01)
    torch.save(checkpoint, root / "b.ckpt")
    write_separator(module.generator, root / "separator")
    from gansep.models.lyrics import LyricsWaveUNet

    write_separator(LyricsWaveUNet(sources=["vocals", "accompaniment"], channels=2,
                                   sample_rate=8000, levels=5, extra_filters=4, down_kernel=5,
                                   up_kernel=3, output_length=2048, lyrics_hidden=8),
                    root / "lyrics-separator")

    # Damaged checkpoints.
    good = (root / "a.ckpt").read_bytes()
    (root / "ckpt").mkdir()
    (root / "ckpt" / "truncated.ckpt").write_bytes(good[: len(good) // 3])
    (root / "ckpt" / "random.ckpt").write_bytes(np.random.default_rng(0).bytes(4096))
    (root / "ckpt" / "empty.ckpt").write_bytes(b"")
    torch.save({"state_dict": {}, "x": Payload(root / "PAYLOAD-RAN")}, root / "ckpt" / "payload.ckpt")
    torch.save({"state_dict": {}}, root / "ckpt" / "foreign.ckpt")
    # Hyper-parameters that name code: LightningCLI would import and call them.
    touch = {"command": f"touch {root / 'PAYLOAD-RAN'}"}
    (root / "subconfig").mkdir()
    for name in ("payload.yaml", "payload"):
        (root / "subconfig" / name).write_text(
            f"class_path: os.system\ninit_args: {{command: '{touch['command']}'}}\n")
    for name, change in hyperparameter_payloads(touch, root).items():
        checkpoint = torch.load(root / "a.ckpt", weights_only=True)
        checkpoint["hyper_parameters"] = {**HYPERPARAMETERS, **change}
        torch.save(checkpoint, root / "ckpt" / f"hparams-{name}.ckpt")
    # A file named 'last' in the working folder: Lightning loads it, keyword or not.
    (root / "last-file").mkdir()
    shutil.copy(root / "ckpt" / "hparams-subconfig-relative.ckpt", root / "last-file" / "last")

    # NaN weights: a checkpoint, and an export whose hashes and digest agree with them.
    checkpoint = torch.load(root / "a.ckpt", weights_only=True)
    next(v for k, v in checkpoint["state_dict"].items() if k.startswith("generator."))[0] = \
        float("nan")
    torch.save(checkpoint, root / "ckpt" / "nan-weights.ckpt")
    from safetensors.torch import load_file, save_file

    from gansep.atomic import sha256_file
    from gansep.checkpoints import DIGEST, description_digest

    shutil.copytree(root / "separator", root / "exports" / "nan")
    weights = root / "exports" / "nan" / "model.safetensors"
    state = load_file(weights)
    next(iter(state.values()))[0] = float("inf")
    save_file(state, weights)
    config = json.loads((root / "exports" / "nan" / "separator.json").read_text())
    config["sha256"]["model.safetensors"] = sha256_file(weights)
    config.pop(DIGEST)
    config[DIGEST] = description_digest(config)
    (root / "exports" / "nan" / "separator.json").write_text(json.dumps(config))

    # Source names that are paths, in a checkpoint and in an export whose digests agree.
    for name, source in (("dotdot", "../../../escaped"), ("absolute", str(root / "escaped")),
                         ("nul", "voc\0als"), ("dot", "..")):
        checkpoint = torch.load(root / "a.ckpt", weights_only=True)
        checkpoint["gansep"]["generator"]["sources"] = [source, "accompaniment"]
        torch.save(checkpoint, root / "ckpt" / f"source-{name}.ckpt")
        _reexport(root / "separator", root / "exports" / f"source-{name}",
                  lambda config: [c.update(sources=[source, "accompaniment"])
                                  for c in (config, config["generator"]["init_args"])])
    # A model of four sources, for a rerun over the output of the two-source one.
    write_separator(tiny_generator(sources=["vocals", "drums", "bass", "other"],
                                   output_length=512), root / "exports" / "four-sources")

    # Tampered exports.
    for name in ("rate", "json-cut", "ts", "weights", "consistent"):
        shutil.copytree(root / "separator", root / "exports" / name)
    exports = root / "exports"
    config = json.loads((exports / "rate" / "separator.json").read_text())
    config["generator"]["init_args"]["sample_rate"] = 44100
    (exports / "rate" / "separator.json").write_text(json.dumps(config))
    text = (exports / "json-cut" / "separator.json").read_text()
    (exports / "json-cut" / "separator.json").write_text(text[: len(text) // 2])
    ts = bytearray((exports / "ts" / "separator.ts").read_bytes())
    ts[-100] ^= 0xFF
    (exports / "ts" / "separator.ts").write_bytes(bytes(ts))
    (exports / "weights" / "model.safetensors").write_bytes(
        (exports / "weights" / "model.safetensors").read_bytes()[:200])
    # Top level edited, and the digest removed as an older gansep's export would lack it.
    config = json.loads((exports / "consistent" / "separator.json").read_text())
    config["sample_rate"], _ = 16000, config.pop("description_sha256")
    (exports / "consistent" / "separator.json").write_text(json.dumps(config))

    # Damaged audio, for separate, score and check-data.
    rng = np.random.default_rng(0)
    audio = root / "audio"
    noise = (0.1 * rng.standard_normal((RATE, 2))).astype(np.float32)
    _wav(audio / "good.wav", noise)
    _wav(audio / "one.wav", noise[:1])
    _wav(audio / "header-only.wav", noise[:0])
    (audio / "empty.wav").write_bytes(b"")
    (audio / "text.wav").write_text("this is not audio\n")
    nan = noise.copy()
    nan[100] = np.nan
    _wav(audio / "nan.wav", nan)
    inf = noise.copy()
    inf[5] = np.inf
    _wav(audio / "inf.wav", inf)
    data = (audio / "good.wav").read_bytes()
    (audio / "cut-data.wav").write_bytes(data[: len(data) * 2 // 3])
    _wav(audio / "odd" / "8k-mono.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32),
         rate=8000)
    _wav(audio / "odd" / "3ch.wav", (0.1 * rng.standard_normal((RATE, 3))).astype(np.float32))
    _wav(audio / "a" / "song.wav", noise)
    _wav(audio / "b" / "song.wav", noise)
    _wav(audio / "same" / "song.wav", noise)
    _wav(root / "stem-named" / "vocals" / "vocals.wav", noise)
    for source in ("vocals", "accompaniment"):  # an earlier `separate good.wav`
        _wav(root / "separated" / "good" / f"{source}.wav", noise)
    for source in ("drums", "bass"):  # an earlier `separate good.wav` by another model
        _wav(root / "separated-other" / "good" / f"{source}.flac", noise, subtype="PCM_16")
    (root / "separated-other" / "good" / "notes.txt").write_text("the user's own file\n")
    sf.write(audio / "same" / "song.flac", noise, RATE)

    # Lyrics and word timings, for align, score-alignment and evaluate-alignment.
    lyrics = root / "lyrics"
    lyrics.mkdir()
    (lyrics / "good.txt").write_text("la la la\n\nsing a song\n")
    (lyrics / "blank.txt").write_text("\n  \n")
    (lyrics / "long.txt").write_text("sing a long song all night long\n" * 40)
    (lyrics / "latin1.txt").write_bytes("chanson d'\xe9t\xe9\n".encode("latin-1"))
    words = root / "alignment" / "reference" / "annotations" / "words"
    words.mkdir(parents=True)
    (words / "song.csv").write_text("word_start,word_end,line_end\n0.1,0.3,nan\n0.4,0.6,0.6\n")
    (words / "other.csv").write_text("word_start,word_end,line_end\n0.2,0.3,0.3\n")
    predictions = root / "alignment" / "predictions"
    predictions.mkdir()
    (predictions / "song.csv").write_text("word_start,word_end,line_end\n0.1,0.3,nan\n")
    (predictions / "other.csv").write_text("word_start,word_end,line_end\nlate,0.3,0.3\n")

    # Earlier results of checkpoint A (for resume cases), and estimates to score.
    from gansep.data import StemsFolder as Folder

    evaluate_checkpoint(root / "a.ckpt", Folder(toy), root / "results", write_estimates=True)
    estimates = root / "results" / "estimates"
    test = toy / "test"
    for name, change in (("nan", "nan"), ("rate", "rate"), ("channels", "channels"),
                         ("text", "text"), ("missing", "missing"), ("half", "half"),
                         ("cut", "cut"), ("silent", "silent"), ("misspelt", "misspelt"),
                         ("only-misspelt", "only-misspelt"), ("extra-stem", "extra-stem")):
        folder = root / "estimates" / name
        shutil.copytree(estimates, folder)
        vocals = folder / "toy-test-000" / "vocals.wav"
        sound, rate = sf.read(vocals, dtype="float32")
        if change == "nan":
            sound[RATE // 2] = np.nan
            sf.write(vocals, sound, rate, subtype="FLOAT")
        elif change == "rate":
            sf.write(vocals, sound, 16000)
        elif change == "channels":
            sf.write(vocals, sound[:, 0], rate)
        elif change == "text":
            vocals.write_text("not audio")
        elif change == "half":
            sf.write(vocals, sound[: len(sound) // 2], rate, subtype="FLOAT")
        elif change == "cut":
            vocals.write_bytes(vocals.read_bytes()[: vocals.stat().st_size * 2 // 3])
        elif change == "extra-stem":  # an estimate of drums too, beside the two sources
            for track in folder.iterdir():
                drums, rate = sf.read(test / track.name / "drums.wav", dtype="float32")
                sf.write(track / "drums.wav", 0.5 * drums, rate, subtype="FLOAT")
        elif change == "silent":
            sf.write(vocals, np.zeros_like(sound), rate, subtype="FLOAT")
        elif change in ("misspelt", "only-misspelt"):
            for track in folder.iterdir():
                (track / "vocals.wav").rename(track / "vocal.wav")
                if change == "only-misspelt":
                    (track / "accompaniment.wav").unlink()
        else:
            shutil.rmtree(folder / "toy-test-001")

    # Datasets with one bad track (train: skipped; test: reported, the rest scored; check-data:
    # every problem listed). Each holds a copy of the toy data with one file damaged.
    for name in ("empty-stem", "header-only-stem", "zero-length", "unequal-rates", "cut-wav"):
        shutil.copytree(toy, root / "datasets" / name)
    sets = root / "datasets"
    for split in ("train", "test"):
        (sets / "empty-stem" / split / f"toy-{split}-000" / "bass.wav").write_bytes(b"")
        _wav(sets / "header-only-stem" / split / f"toy-{split}-000" / "bass.wav", noise[:0])
        sf.write(sets / "unequal-rates" / split / f"toy-{split}-000" / "bass.wav",
                 noise[:16000], 16000)
        for stem in (sets / "zero-length" / split / f"toy-{split}-000").iterdir():
            _wav(stem, noise[:0])
    shutil.copytree(toy, sets / "missing-stem")
    (sets / "missing-stem" / "train" / "toy-train-001" / "bass.wav").unlink()
    for track in (sets / "missing-stem").glob("*/*"):
        if track.name != "toy-train-001":
            (track / "lyrics_words.csv").write_text("word_start,word_end,line_end\n0.1,0.2,\n")
    (sets / "missing-stem" / "test" / "toy-test-000" / "lyrics_words.csv").write_text(
        "word_start,word_end,line_end\nsoon,0.2,\n")
    cut_wav = sets / "cut-wav" / "train" / "toy-train-001" / "vocals.wav"
    cut_wav.write_bytes(cut_wav.read_bytes()[:30000])
    nan_stem = sets / "zero-length" / "train" / "toy-train-001" / "drums.wav"
    sound, _ = sf.read(nan_stem, dtype="float32")
    sound[10] = np.nan
    _wav(nan_stem, sound)

    # Earlier results whose estimates hold a source the next model does not have.
    shutil.copytree(root / "results", root / "results-other-sources")
    for track in (root / "results-other-sources" / "estimates").iterdir():
        shutil.copy(track / "vocals.wav", track / "drums.wav")

    # Results folders with a hand-cut JSON, and run folders for compare.
    shutil.copytree(root / "results", root / "results-cut")
    cut = root / "results-cut" / "test" / "toy-test-001.json"
    cut.write_text(cut.read_text()[:300])
    (root / "runs" / "no-results").mkdir(parents=True)
    shutil.copytree(root / "results", root / "runs" / "good" / "results")
    shutil.copytree(root / "results-cut", root / "runs" / "cut" / "results")
    (root / "a-file").write_text("a file where a folder is expected\n")
    # For compare: a copy of a run (no second seed), a run scored against other references
    # (same track names, other audio), a result with an infinite SDR, and an earlier
    # comparison whose manifest lists a table this comparison will not write.
    shutil.copytree(root / "runs" / "good", root / "runs" / "copy")
    shutil.copytree(root / "runs" / "good", root / "runs" / "other-references")
    result = root / "runs" / "other-references" / "results" / "test" / "toy-test-000.json"
    data = json.loads(result.read_text())
    data["gansep_provenance"]["data_sha256"]["vocals.wav"] = "0" * 64
    result.write_text(json.dumps(data))
    shutil.copytree(root / "runs" / "good", root / "runs" / "infinite")
    result = root / "runs" / "infinite" / "results" / "test" / "toy-test-001.json"
    data = json.loads(result.read_text())
    data["targets"][0]["frames"][0]["metrics"]["SDR"] = float("inf")
    result.write_text(json.dumps(data))
    from gansep.experiments.compare import compare_runs

    compare_runs([root / "runs" / "good"], root / "comparison")
    (root / "comparison" / "compare-stale.md").write_text("a table of an earlier comparison\n")
    manifest = json.loads((root / "comparison" / "gansep-output.json").read_text())
    manifest["files"].append("compare-stale.md")
    (root / "comparison" / "gansep-output.json").write_text(json.dumps(manifest))
    # A sweep run that finished with another base config (fit.yaml edited since).
    import yaml

    from gansep.experiments.sweep import IDENTITY, run_identity, run_name

    sweep = {"program": "gansep", "method": "grid",
             "parameters": {"seed_everything": {"values": [0]}},
             "command": ["gansep", "fit", "--config", str(root / "fit.yaml"), "${args}"]}
    (root / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    identity = run_identity(sweep, {"seed_everything": 0})
    identity["files"][str(root / "fit.yaml")] = "0" * 64
    run = root / "sweep-runs" / run_name({"seed_everything": 0})
    run.mkdir(parents=True)
    (run / IDENTITY).write_text(json.dumps(identity))
    (run / "status.json").write_text(json.dumps({"status": "finished", "exit_code": 0}))
    (root / "bad.yaml").write_text("method: grid\nparameters: [unclosed\n")
    (root / "empty.yaml").write_text("")
    (root / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (root / "no-generator.yaml").write_text("trainer: {max_epochs: 1}\n")
    (root / "levels0-run.yaml").write_text(
        "model: {init_args: {generator: {init_args: {levels: 0}}}}\n")
    (root / "empty-stem-run.yaml").write_text(
        f"data: {{collection: {{init_args: {{root: {sets / 'empty-stem'}}}}}}}\n")
    (root / "levels0.yaml").write_text(
        "class_path: gansep.models.WaveUNet\ninit_args: {levels: 0}\n")
    # Sizes that cannot fit any machine here: refused before anything is allocated.
    (root / "huge-waveunet.yaml").write_text(
        "class_path: gansep.models.WaveUNet\ninit_args: {extra_filters: 200000}\n")
    (root / "huge-roformer.yaml").write_text(
        "class_path: gansep.models.BSRoformer\ninit_args: {sources: [vocals, accompaniment], "
        "segment_length: 353280, arguments: {dim: 65536, depth: 1}}\n")

    # A listening test of the estimates, and ratings files for listen analyse.
    from gansep.listen.build import build_test

    build_test(test, {"a": estimates}, "vocals", trials=1, seconds=1.0,
               out=root / "listen-test", min_activity=0.5)
    # Tests that would serve files from outside their folder, or changed files.
    outside = root / "listen-outside"
    outside.mkdir()
    description = json.loads((root / "listen-test" / "test.json").read_text())
    stimulus = description["trials"][1]["stimuli"][0]["file"]
    for name in ("symlink", "dotdot", "absolute", "changed", "no-trials", "no-rate"):
        shutil.copytree(root / "listen-test", outside / name)
    (outside / "symlink" / stimulus).unlink()
    (outside / "symlink" / stimulus).symlink_to(root / "a-file")
    for name, file in (("dotdot", "../../a-file"), ("absolute", str(root / "a-file"))):
        edited = json.loads(json.dumps(description))
        edited["trials"][1]["stimuli"][0]["file"] = file
        (outside / name / "test.json").write_text(json.dumps(edited))
    changed = bytearray((outside / "changed" / stimulus).read_bytes())
    changed[-8:] = b"\x00" * 8
    (outside / "changed" / stimulus).write_bytes(bytes(changed))
    for name, key in (("no-trials", "trials"), ("no-rate", "rate")):
        edited = {k: v for k, v in description.items() if k != key}
        (outside / name / "test.json").write_text(json.dumps(edited))

    # A fitted perceptual model whose terms name code to run.
    from gansep.eval.perceptual import TERMS, PerceptualModel

    model = PerceptualModel(terms={"l1": TERMS["l1"]}, weights={"l1": 1.0}, means={"l1": 0.1},
                            stds={"l1": 0.05}, intercept=50.0, rate=RATE, excerpt_seconds=1.0,
                            source="vocals")
    model.save(root / "perceptual" / "good")
    model.terms = {"l1": ("os.system", touch)}
    model.save(root / "perceptual" / "payload")
    model.terms = {"l1": ("gansep.losses.L1", {"reduction": "sum"})}
    model.save(root / "perceptual" / "other-args")
    listen = root / "listen"
    listen.mkdir()
    (listen / "bad-ratings.csv").write_text(
        "rater,trial,condition,rating\nr1,t01,reference,100\nr1,t01,a,150\n")
    (listen / "no-reference.csv").write_text(
        "rater,trial,condition,rating\nr1,t01,a,50\nr1,t01,b,60\n")
    (listen / "ratings.csv").write_text(
        "rater,trial,condition,rating\n" + "".join(
            f"r{i},t01,{c},{v}\n" for i in range(3) for c, v in
            (("reference", 100), ("anchor-7kHz", 50), ("a", 40), ("b", 30))))
    (listen / "other-test-ratings.csv").write_text(
        "rater,trial,condition,rating,test_sha256\n" + "".join(
            f"r{i},t01,{c},{v},{'0' * 64}\n" for i in range(3) for c, v in
            (("reference", 100), ("anchor-7kHz", 50), ("a", 40), ("b", 30))))
    # Predictions of evaluate-alignment whose manifest (alignment.json) is gone.
    (root / "alignment" / "no-manifest" / "predictions").mkdir(parents=True)
    (root / "alignment" / "no-manifest" / "predictions" / "song.csv").write_text(
        "word_start,word_end,line_end\n0.1,0.3,nan\n")
    import sqlite3

    with sqlite3.connect(listen / "other.sqlite") as connection:
        connection.execute("CREATE TABLE songs (title TEXT)")
    (listen / "metrics.csv").write_text("trial,condition,SDR\nt01,a,1.5\n")

    # Ambiguous data (gansep ambiguity): estimates one sample short, a damaged phrase file.
    from gansep.data.ambiguous import make_ambiguous_dataset
    from gansep.data.audio import read_audio, write_audio

    ambiguous = make_ambiguous_dataset(root / "ambiguous", seed=1, sample_rate=8000,
                                       duration=4.0, tracks={"test": 1})
    track = next((ambiguous / "test").iterdir())
    vocals, rate = read_audio(track / "vocals.wav")
    write_audio(root / "ambiguous-estimates" / track.name / "vocals.wav", vocals[:, :-1], rate,
                subtype="FLOAT")
    shutil.copytree(ambiguous, root / "ambiguous-bad-csv")
    (root / "ambiguous-bad-csv" / "test" / track.name / "ambiguity.csv").write_text(
        "start,end,assigned\n0.5,0.2,vocals\n")
    return root
