"""MoisesDB read from its published layout: folders the tests write from generated audio."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from gansep.data.audio import DataError, write_audio
from gansep.data.check import check_collection
from gansep.data.moisesdb import MoisesDB, split_of
from gansep.errors import ConfigError

RATE = 8000
LENGTH = 12000
#: (stemName, trackType) of each recorded track of a song.
SONG = [("vocals", "lead female singer"), ("vocals", "background vocals"),
        ("vocals", "human choir"), ("bass", "bass guitar"), ("drums", "kick drum"),
        ("drums", "snare drum"), ("guitar", "acoustic guitar"), ("other_keys", "synth pad")]


def write_song(root, track_id, tracks=SONG, seed=0, provider="provider", lengths=None,
               rates=None, channels=None, bleed=()):
    """A song folder in MoisesDB's layout; returns ``{(stem, type, index): audio}``."""
    rng = np.random.default_rng(seed)
    folder = root / provider / track_id
    stems, audio = {}, {}
    for index, (stem, kind) in enumerate(tracks):
        length = (lengths or {}).get(index, LENGTH)
        signal = (0.1 * rng.standard_normal(((channels or {}).get(index, 2), length))
                  ).astype(np.float32)
        name = f"{index:02d}-{kind[:4].replace(' ', '')}"
        write_audio(folder / stem / f"{name}.wav", signal, (rates or {}).get(index, RATE),
                    subtype="FLOAT")
        stems.setdefault(stem, []).append({"id": name, "extension": "wav", "trackType": kind,
                                           "has_bleed": index in bleed})
        audio[(stem, kind, index)] = signal
    (folder / "data.json").write_text(json.dumps({
        "artist": "someone", "song": track_id, "genre": "pop",
        "stems": [{"stemName": s, "tracks": t} for s, t in stems.items()]}))
    return audio


def ids_in(split, count=40):
    return [i for i in (f"song-{n:03d}" for n in range(count)) if split_of(i) == split]


@pytest.fixture
def root(tmp_path):
    return tmp_path / "moisesdb"


def stems_of(collection, split):
    [track] = collection.tracks(split)
    return track, track.read_stems(0, track.num_frames)


def test_targets_are_exact_sums_of_their_tracks_under_every_stem_map(root):
    song = ids_in("test")[0]
    audio = write_song(root, song)

    def total(select):
        return np.sum([a for key, a in audio.items() if select(*key)], axis=0,
                      dtype=np.float32)
    expected = {
        "vocals-accompaniment": {"vocals": total(lambda s, k, i: s == "vocals"),
                                 "accompaniment": total(lambda s, k, i: s != "vocals")},
        "4stems": {"vocals": total(lambda s, k, i: s == "vocals"),
                   "bass": total(lambda s, k, i: s == "bass"),
                   "drums": total(lambda s, k, i: s == "drums"),
                   "other": total(lambda s, k, i: s in ("guitar", "other_keys"))},
        "lead-backing": {"lead": total(lambda s, k, i: k.startswith("lead")),
                         "backing": total(lambda s, k, i: k in ("background vocals",
                                                                "human choir")),
                         "accompaniment": total(lambda s, k, i: s != "vocals")},
    }
    custom = {"choir": ["human choir"], "vocals": ["vocals"], "keys": ["other keys"],
              "band": "rest"}  # a track type beats its stem; a stem name with a space
    expected["custom"] = {"choir": total(lambda s, k, i: k == "human choir"),
                          "vocals": total(lambda s, k, i: s == "vocals" and k != "human choir"),
                          "keys": total(lambda s, k, i: s == "other_keys"),
                          "band": total(lambda s, k, i: s in ("bass", "drums", "guitar"))}
    for name, targets in expected.items():
        track, stems = stems_of(MoisesDB(root, name if name != "custom" else custom), "test")
        assert list(stems) == list(targets), name
        for target, signal in targets.items():
            np.testing.assert_array_equal(stems[target], signal, err_msg=f"{name} {target}")
        mixture = track.read_mixture(0, track.num_frames)
        np.testing.assert_array_equal(mixture, np.sum(list(stems.values()), axis=0,
                                                      dtype=np.float32))
        assert track.sample_rate == RATE and track.channels == 2


def test_a_song_is_trimmed_to_its_shortest_file_and_mono_plays_on_both_channels(root):
    song = ids_in("test")[0]
    audio = write_song(root, song, lengths={3: LENGTH - 100}, channels={4: 1})
    track, stems = stems_of(MoisesDB(root, "4stems"), "test")
    assert track.num_frames == LENGTH - 100
    kick = audio[("drums", "kick drum", 4)]
    np.testing.assert_array_equal(
        stems["drums"], (np.repeat(kick, 2, axis=0) + audio[("drums", "snare drum", 5)]
                         )[:, :LENGTH - 100])


def test_splits_are_drawn_from_the_track_id_or_read_from_a_split_file(root, tmp_path):
    ids = [f"song-{n:03d}" for n in range(12)]
    for n, song in enumerate(ids):
        write_song(root, song, tracks=SONG[:1] + SONG[3:4], seed=n)
    collection = MoisesDB(root)
    drawn = {split: [t.name for t in collection.tracks(split)] for split in ("train", "test")
             if any(split_of(i) == split for i in ids)}
    assert all(split_of(name) == split for split, names in drawn.items() for name in names)
    assert drawn == {split: [t.name for t in MoisesDB(root).tracks(split)] for split in drawn}
    assert hashlib_share_is_stable()
    split_file = tmp_path / "splits.yaml"
    split_file.write_text("train: [song-000, song-001]\nvalid: [song-002]\ntest: [song-003]\n")
    chosen = MoisesDB(root, split_file=split_file)
    assert [t.name for t in chosen.tracks("train")] == ["song-000", "song-001"]
    assert [t.name for t in chosen.tracks("test")] == ["song-003"]
    split_file.write_text("train: [song-000]\ntest: [song-000]\n")
    with pytest.raises(ConfigError, match="song-000 is in two splits"):
        MoisesDB(root, split_file=split_file)


def hashlib_share_is_stable():
    # The draw is SHA-256 of the id: the same on every machine and Python.
    return split_of("song-000") == split_of("song-000") and {split_of(f"x{n}") for n in
                                                             range(200)} == {"train", "valid",
                                                                             "test"}


def broken(root, song, edit):
    data = root / "provider" / song / "data.json"
    meta = json.loads(data.read_text())
    edit(meta)
    data.write_text(json.dumps(meta) if not isinstance(meta, str) else meta)


def test_bad_songs_are_left_out_with_one_line_naming_the_file(root, tmp_path):
    songs = ids_in("train")[:9]
    for n, song in enumerate(songs):
        write_song(root, song, seed=n, rates={2: 16000} if n == 5 else None,
                   channels={1: 3} if n == 6 else None, bleed=(0,) if n == 0 else ())
    outside = tmp_path / "outside.wav"
    write_audio(outside, np.zeros((2, LENGTH), np.float32), RATE)
    broken(root, songs[1], lambda m: m["stems"][0]["tracks"][0].update(id="../../../x"))
    broken(root, songs[2], lambda m: m["stems"][0]["tracks"][0].update(id="/etc/passwd"))
    link = root / "provider" / songs[3] / "vocals" / "link.wav"
    os.symlink(outside, link)
    broken(root, songs[3], lambda m: m["stems"][0]["tracks"][0].update(id="link"))
    broken(root, songs[4], lambda m: m["stems"][0]["tracks"][0].update(id="gone"))
    broken(root, songs[7], lambda m: m.update(stems=[]))
    (root / "provider" / songs[8] / "data.json").write_text("{not json")
    collection = MoisesDB(root, "lead-backing")
    usable = [t.name for t in collection.tracks("train")]
    assert usable == [songs[0]]
    problems = collection.unusable("train")
    expected = {songs[1]: "must name a file inside", songs[2]: "must name a file inside",
                songs[3]: "leads outside", songs[4]: "gone.wav is missing",
                songs[5]: "sample rate 16000 Hz", songs[6]: "3 channels",
                songs[7]: "no recorded track", songs[8]: "not readable JSON"}
    for song, words in expected.items():
        assert words in problems[song] and str(root / "provider" / song) in problems[song], \
            (song, problems[song])
        assert "\n" not in problems[song]
    # check-data reports them; the bleed flag is known per track
    notes = []
    count, found = check_collection(collection, notes=notes)
    assert count == 1 and sum(song in " ".join(found) for song in expected) == len(expected)
    assert notes == [f"{songs[0]}: recorded with bleed (has_bleed) from other instruments: "
                     "vocals/00-lead.wav"]


def test_lead_backing_leaves_out_a_song_without_backing(root):
    song = ids_in("test")[0]
    write_song(root, song, tracks=[t for t in SONG if t[1] not in ("background vocals",
                                                                   "human choir")])
    with pytest.raises(DataError, match="holds no usable MoisesDB song"):
        MoisesDB(root, "lead-backing").tracks("test")
    assert "no backing track" in MoisesDB(root, "lead-backing").unusable("test")[song]
    assert MoisesDB(root, "vocals-accompaniment").tracks("test")[0].name == song


@pytest.mark.parametrize("stems, words", [
    ("5stems", "unknown stem map"),
    ({"lead": ["lead tenor"], "rest": "rest"}, "is neither a MoisesDB stem name"),
    ({"lead": ["lead male singer"]}, "exactly one target must take 'rest'"),
    ({"../x": ["vocals"], "y": "rest"}, "target"),
])
def test_a_bad_stem_map_is_refused_with_one_line(stems, words, tmp_path):
    with pytest.raises(ConfigError, match=words.replace("(", "\\(")):
        MoisesDB(tmp_path, stems)


@pytest.mark.slow
@pytest.mark.parametrize("stems, sources", [
    ("lead-backing", ["lead", "backing", "accompaniment"]),
    ("vocals-accompaniment", ["vocals", "accompaniment"]),
    ("4stems", ["vocals", "bass", "drums", "other"])])
def test_a_run_config_trains_checks_and_evaluates_on_moisesdb(cli, root, tmp_path, stems,
                                                             sources):
    """MoisesDB like any collection: check-data --config, a 2-step fit (validation callback
    included) with each stem map, and evaluate --config (lead-backing)."""
    for split in ("train", "valid", "test"):
        write_song(root, ids_in(split)[0], seed=len(split))
    config = tmp_path / "moisesdb.yaml"
    config.write_text(f"""
trainer:
  max_steps: 2
  accelerator: cpu
  enable_progress_bar: false
  logger:
    class_path: gansep.training.RunLogger
    init_args: {{save_dir: {tmp_path / 'runs'}, name: moisesdb, version: l1}}
  callbacks:
    - class_path: gansep.training.SeparationMetrics
      init_args: {{every_n_epochs: 1, duration: null}}
    - class_path: pytorch_lightning.callbacks.ModelCheckpoint
      init_args: {{save_last: true, save_top_k: 0, monitor: null}}
model:
  class_path: gansep.training.Separator
  init_args:
    generator:
      class_path: gansep.models.WaveUNet
      init_args: {{sources: [{", ".join(sources)}], channels: 2, sample_rate: {RATE},
                  levels: 3, extra_filters: 4, down_kernel: 5, up_kernel: 3,
                  output_length: 512}}
data:
  collection:
    class_path: gansep.data.MoisesDB
    init_args: {{root: {root}, stems: {stems}}}
  batch_size: 2
  excerpts_per_epoch: 4
""")
    checked = cli(["check-data", "--config", str(config)], tmp_path)
    assert "3 track(s) checked, 0 problem(s)" in checked.stdout
    cli(["fit", "--config", str(config)], tmp_path)
    checkpoint = tmp_path / "runs" / "moisesdb" / "l1" / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()
    if stems != "lead-backing":
        return
    cli(["evaluate", "--ckpt", str(checkpoint), "--config", str(config), "--out",
         str(tmp_path / "results")], tmp_path)
    table = (tmp_path / "results" / "results.md").read_text()
    assert all(f"| {target} |" in table for target in sources)


def test_make_data_ambiguous_from_real_stems_finds_phrases_and_keeps_sums_exact(
        root, tmp_path, cli):
    """``make-data ambiguous OUT --from CONFIG``: MoisesDB's lead and backing (lead-backing)
    become the ambiguous layout: backing phrases are the backing stem's active spans, each
    assigned by the seeded draw; mixture = vocals + accompaniment = lead + backing + the rest,
    exactly; gansep ambiguity scores it like generated data."""
    from gansep.data.ambiguous import GATE, read_manifest, read_phrases
    from gansep.data.audio import read_audio
    from gansep.eval.ambiguity import evaluate_ambiguity, write_oracle_estimates

    song = ids_in("test")[0]
    audio = write_song(root, song)
    backing_dir = root / "provider" / song / "vocals"
    # The backing voices sing twice: 0.05-0.55 s and 1.0-1.5 s; silent elsewhere.
    sung = [(0.05, 0.55), (1.0, 1.5)]
    gate = np.zeros(LENGTH, np.float32)
    for start, stop in sung:
        gate[int(start * RATE):int(stop * RATE)] = 1
    for index, (stem, kind) in enumerate(SONG):
        if kind in ("background vocals", "human choir"):
            path = next(backing_dir.glob(f"{index:02d}-*.wav"))
            write_audio(path, audio[(stem, kind, index)] * gate, RATE, subtype="FLOAT")
    config = tmp_path / "moises.yaml"
    config.write_text(f"data:\n  collection:\n    class_path: gansep.data.MoisesDB\n"
                      f"    init_args: {{root: {root}, stems: lead-backing}}\n")
    out = tmp_path / "ambiguous"
    cli(["make-data", "ambiguous", str(out), "--from", str(config), "--seed", "3"], tmp_path)
    folder = out / "test" / song
    phrases = read_phrases(folder / "ambiguity.csv")
    assert len(phrases) == 2  # found to within one hop (25 ms) of the gate
    for phrase, (start, stop) in zip(phrases, sung):
        assert abs(phrase.start - start) <= GATE["hop"] and abs(phrase.end - stop) <= GATE["hop"]
    parts = {name: read_audio(folder / f"{name}.wav")[0] for name in
             ("mixture", "vocals", "accompaniment", "parts/lead", "parts/backing")}
    np.testing.assert_array_equal(parts["mixture"], parts["vocals"] + parts["accompaniment"])
    mask = np.zeros(LENGTH, bool)
    for phrase in phrases:
        if phrase.assigned == "vocals":
            mask[int(round(phrase.start * RATE)):int(round(phrase.end * RATE))] = True
    np.testing.assert_array_equal(parts["vocals"],
                                  parts["parts/lead"] + np.where(mask, parts["parts/backing"], 0))
    assert read_manifest(out)["cue"] == "none" and read_manifest(out)["gate"] == GATE
    # the same pipeline as generated data: an oracle that chooses decides every phrase
    estimates = write_oracle_estimates(out, tmp_path / "oracle", "choose")
    assert evaluate_ambiguity(out, estimates, tmp_path / "scores")["decided"] == 1.0
    # a rerun with the same seed draws the same assignment
    again = tmp_path / "again"
    cli(["make-data", "ambiguous", str(again), "--from", str(config), "--seed", "3"], tmp_path)
    assert (again / "test" / song / "ambiguity.csv").read_text() == \
        (folder / "ambiguity.csv").read_text()
    # refusals: generated-data options, an output inside the input
    refused = cli(["make-data", "ambiguous", str(tmp_path / "x"), "--from", str(config),
                   "--cue", "timbre"], tmp_path, check=False)
    assert refused.returncode == 2 and "--cue" in refused.stderr
    inside = cli(["make-data", "ambiguous", str(root / "out"), "--from", str(root)], tmp_path,
                 check=False)
    assert inside.returncode == 2
