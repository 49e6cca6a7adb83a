"""gansep ambiguity: the backing voice's share in an estimate, choice SDR, refusals."""

from __future__ import annotations

import csv
import json
import re
import shutil

import numpy as np
import pytest
from scipy.stats import wilcoxon

from gansep.cli.main import main
from gansep.data.ambiguous import make_ambiguous_dataset, read_manifest, read_phrases
from gansep.data.audio import DataError, read_audio, write_audio
from gansep.eval.ambiguity import evaluate_ambiguity, score_track, write_oracle_estimates
from gansep.experiments.ambiguity_report import check_controls, controls_markdown

RATE = 8000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ambiguous")
    make_ambiguous_dataset(root, sample_rate=RATE, duration=8.0, tracks={"test": 2})
    return root


def estimates_for(data, out, c, seed=0):
    """``lead + c·backing`` plus independent noise 20 dB below it, per track."""
    rng = np.random.default_rng(seed)
    for track in sorted((data / "test").iterdir()):
        lead = read_audio(track / "parts" / "lead.wav")[0]
        backing = read_audio(track / "parts" / "backing.wav")[0]
        clean = lead + c * backing
        noise = rng.standard_normal(clean.shape)
        noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2)) * 10 ** (-20 / 20)
        write_audio(out / track.name / "vocals.wav", (clean + noise).astype(np.float32), RATE,
                    subtype="FLOAT")
    return out


@pytest.mark.parametrize("c", [0.0, 0.5, 1.0])
def test_the_gain_is_the_share_of_the_backing_voice(data, tmp_path, c):
    estimates = estimates_for(data, tmp_path / "estimates", c)
    scores = []
    for track in sorted((data / "test").iterdir()):
        scores += score_track(track, estimates / track.name / "vocals.wav", "vocals")
    assert len(scores) >= 2
    for score in scores:
        assert score.gain == pytest.approx(c, abs=0.01)
        assert score.lead_gain == pytest.approx(1.0, abs=0.01)
        assert score.residual_db < -10  # the noise alone (20 dB below the track's level)
        # choice SDR: against the nearer valid target, never below the assigned one
        assert score.choice_sdr >= score.sdr
        if c in (0.0, 1.0):
            chose_assigned = (c == 1.0) == (score.phrase.assigned == "vocals")
            assert (score.choice_sdr == score.sdr) == chose_assigned
            assert score.choice_sdr > 10


def test_the_command_writes_the_table_histogram_and_summary(data, tmp_path):
    estimates = estimates_for(data, tmp_path / "estimates", 0.5)
    assert main(["ambiguity", str(data), str(estimates), "--out", str(tmp_path / "out")]) == 0
    table = (tmp_path / "out" / "ambiguity.csv").read_text().splitlines()
    assert table[0] == ("track,start,end,assigned,voice,gain,lead_gain,residual_db,SDR,"
                        "choice_SDR")
    assert (tmp_path / "out" / "ambiguity.png").stat().st_size > 1000
    summary = (tmp_path / "out" / "ambiguity.md").read_text()
    # every phrase averaged, mean g = 0.5 (to the fit's noise: 20 dB below the track)
    overall = re.search(r"\| 0.0 % \| 100.0 % \| ([\d.]+) \|", summary)
    assert overall and float(overall[1]) == pytest.approx(0.5, abs=0.01), summary
    voices = {p.voice for track in (data / "test").iterdir()
              for p in read_phrases(track / "ambiguity.csv")}
    for voice in voices:  # one row per backing voice, each averaged
        row = re.search(rf"\| {voice} \| \d+ \| 0.0 % \| ([\d.]+) \|", summary)
        assert row and float(row[1]) == pytest.approx(0.5, abs=0.01), summary


def test_refusals_name_the_file(data, tmp_path):
    estimates = estimates_for(data, tmp_path / "estimates", 1.0)
    track = sorted((data / "test").iterdir())[0]
    broken = tmp_path / "data"
    shutil.copytree(data, broken)
    copy = broken / "test" / track.name

    def refused(says, where):
        with pytest.raises(DataError, match=says) as error:
            evaluate_ambiguity(broken, estimates, tmp_path / "out")
        assert str(where) in str(error.value)

    lead = read_audio(copy / "parts" / "lead.wav")[0]
    write_audio(copy / "parts" / "lead.wav", lead[:, :-5], RATE, subtype="FLOAT")
    refused("samples, but the mixture has", copy / "parts" / "lead.wav")
    write_audio(copy / "parts" / "lead.wav", lead[:, ::2], RATE // 2, subtype="FLOAT")
    refused("sample rate 4000 Hz", copy / "parts" / "lead.wav")
    shutil.rmtree(copy / "parts")
    refused("missing", copy / "parts")
    shutil.copytree(track / "parts", copy / "parts")
    (copy / "ambiguity.csv").write_text("")
    refused("no phrase", copy / "ambiguity.csv")
    (copy / "ambiguity.csv").write_bytes(b"\xff\xfe\x00garbage")
    refused("ambiguity.csv", copy / "ambiguity.csv")
    shutil.copyfile(track / "ambiguity.csv", copy / "ambiguity.csv")
    estimate = estimates / track.name / "vocals.wav"
    audio = read_audio(estimate)[0]
    write_audio(estimate, audio[:, :-1], RATE, subtype="FLOAT")
    refused("the estimate must be as long", estimate)
    estimate.unlink()
    refused("no estimate of vocals", estimates / track.name)


def write_estimates(data, out, c):
    """``estimates_for`` vocals and, as their complement, the accompaniment (mixture minus the
    vocals estimate): a separator that put the share ``c`` of each backing phrase in vocals."""
    estimates_for(data, out, c)
    for track in sorted((data / "test").iterdir()):
        mixture = read_audio(track / "mixture.wav")[0]
        vocals = read_audio(out / track.name / "vocals.wav")[0]
        write_audio(out / track.name / "accompaniment.wav", mixture - vocals, RATE,
                    subtype="FLOAT")
    return out


def test_score_and_compare_report_whether_an_objective_averaged_or_chose(data, tmp_path, cli):
    """The ambiguity metric runs in the one scoring runner: ``gansep score`` on ambiguous data
    stores each track's share decided, mean g and choice SDR per source (and the phrases'
    gains), results.md shows them, and ``gansep compare`` ranks objectives by the share
    decided; on data without ambiguity.csv none of it appears."""
    runs = tmp_path / "runs"
    for name, c in (("chooser", 0.0), ("averager", 0.5)):
        estimates = write_estimates(data, tmp_path / f"estimates-{name}", c)
        cli(["score", data / "test", estimates, "--out", runs / name])
    result = json.loads(next((runs / "averager" / "test").glob("*.json")).read_text())
    targets = {target["name"]: target for target in result["targets"]}
    vocals, accompaniment = targets["vocals"], targets["accompaniment"]
    assert vocals["g"] == pytest.approx(0.5, abs=0.01) and vocals["decided"] == 0.0
    # the accompaniment estimate holds the other half of every phrase
    assert accompaniment["g"] == pytest.approx(0.5, abs=0.02)
    phrases = result["gansep_ambiguity"]["vocals"]
    assert phrases and all(p["gain"] == pytest.approx(0.5, abs=0.01) for p in phrases)
    assert vocals["choice-SDR"] == pytest.approx(np.median([p["choice_SDR"] for p in phrases]))
    chooser = json.loads(next((runs / "chooser" / "test").glob("*.json")).read_text())
    chooser = {target["name"]: target for target in chooser["targets"]}["vocals"]
    assert chooser["decided"] == 1.0
    assert chooser["choice-SDR"] > vocals["choice-SDR"] + 3
    header = (runs / "averager" / "results.md").read_text()
    assert "| decided | g | agreement | choice-SDR |" in header

    cli(["compare", runs / "averager", runs / "chooser", "--out", tmp_path / "cmp"])
    table = (tmp_path / "cmp" / "compare-ambiguity.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| vocals |")]
    assert [row.split(" | ")[1] for row in rows] == ["chooser", "averager"]  # decided first
    # decided, with its interval: the oracle that chooses decides every phrase, the one that
    # averages none (the metric control of the benchmark)
    assert "| 100.0 % [100.0, 100.0] |" in rows[0] and "| 0.0 % [0.0, 0.0] |" in rows[1]
    assert (tmp_path / "cmp" / "ambiguity-histograms.png").stat().st_size > 1000
    # By backing voice: the averager halves each voice's phrases, the chooser none.
    voices = [line.split(" | ") for line in table if line.startswith(("| averager |",
                                                                        "| chooser |"))]
    assert voices and {row[1] for row in voices} <= {"bright", "dark"}
    for row in voices:
        assert row[3] == ("0.0 %" if row[0] == "| averager" else "100.0 %"), row
    # Scored folders name no data: the learnable-rule and averaging controls were not run,
    # and the report says so above the table.
    assert table[0] == "## Controls" and "inconclusive" in table[2]
    # Against a baseline: the share decided per track, paired, tested (Holm-corrected).
    cli(["compare", runs / "averager", runs / "chooser", "--baseline", "averager", "--out",
         tmp_path / "cmp-baseline"])
    table = (tmp_path / "cmp-baseline" / "compare-ambiguity.md").read_text().splitlines()
    rows = {line.split(" | ")[1]: line for line in table if line.startswith("| vocals |")}
    tracks = len(list((data / "test").iterdir()))
    expected = wilcoxon([1.0] * tracks).pvalue  # every track: all decided against none
    assert rows["averager"].endswith("| (baseline) |")
    assert rows["chooser"].endswith(f"| {expected:.3g} |")

    plain = tmp_path / "plain"  # the same files without ambiguity.csv: ordinary stems data
    shutil.copytree(data / "test", plain)
    for csv_file in plain.glob("*/ambiguity.csv"):
        csv_file.unlink()
    cli(["score", plain, tmp_path / "estimates-chooser", "--out", tmp_path / "plain-out"])
    result = json.loads(next((tmp_path / "plain-out" / "test").glob("*.json")).read_text())
    assert "gansep_ambiguity" not in result and "g" not in result["targets"][0]
    assert "decided" not in (tmp_path / "plain-out" / "results.md").read_text()


def test_a_part_shorter_than_the_track_is_refused_by_the_scoring_runner(data, tmp_path, cli):
    estimates = write_estimates(data, tmp_path / "estimates", 1.0)
    broken = tmp_path / "data"
    shutil.copytree(data / "test", broken)
    track = sorted(broken.iterdir())[0]
    lead, rate = read_audio(track / "parts" / "lead.wav")
    write_audio(track / "parts" / "lead.wav", lead[:, : rate], rate)
    result = cli(["score", broken, estimates, "--out", tmp_path / "out"], check=False)
    assert result.returncode == 1  # that track is not scored; the other one is
    assert f"{track / 'parts' / 'lead.wav'}" in result.stderr
    assert "must be as long as the track" in result.stderr


def test_oracle_estimates_choose_or_average_every_phrase(data, tmp_path):
    """The metric's control: an oracle that chooses is 100 % decided, one that averages 100 %
    averaged, through the reading and scoring code every estimate goes through."""
    for kind, key in (("choose", "decided"), ("average", "averaged")):
        estimates = write_oracle_estimates(data, tmp_path / kind, kind)
        values = evaluate_ambiguity(data, estimates, tmp_path / f"{kind}-scores")
        assert values[key] == 1.0 and values["phrases"] >= 2
    with open(tmp_path / "choose-scores" / "ambiguity.csv", newline="") as file:
        gains = [float(row["gain"]) for row in csv.DictReader(file)]
    assert set(np.round(gains, 6)) <= {0.0, 1.0}


def run_folder(path, root, objective):
    path.mkdir(parents=True)
    (path / "params.json").write_text(json.dumps({
        "data.collection.init_args.root": str(root),
        "model.init_args.objective": f"configs/objectives/{objective}.yaml"}))
    return path


def phrase_scores(root, estimates):
    return [score for track in sorted((root / "test").iterdir())
            for score in score_track(track, estimates / track.name / "vocals.wav", "vocals")]


def test_controls_pass_only_when_the_rule_is_learnt_and_l2_averages(tmp_path):
    none, timbre = tmp_path / "none", tmp_path / "timbre"
    make_ambiguous_dataset(none, sample_rate=RATE, duration=8.0, tracks={"test": 2})
    make_ambiguous_dataset(timbre, sample_rate=RATE, duration=8.0, tracks={"test": 2},
                           cue="timbre")
    assert read_manifest(timbre)["cue"] == "timbre" and read_manifest(none)["cue"] == "none"
    # An L1 run that follows the assignment (the vocals target, with noise) on the control,
    # an L2 run that halves every phrase on the ambiguous data: every control passes.
    follows = tmp_path / "follows"
    for track in sorted((timbre / "test").iterdir()):
        target = read_audio(track / "vocals.wav")[0]
        noise = np.random.default_rng(0).standard_normal(target.shape) * 1e-3
        write_audio(follows / track.name / "vocals.wav", (target + noise).astype(np.float32),
                    RATE, subtype="FLOAT")
    l1 = run_folder(tmp_path / "runs" / "l1-timbre", timbre, "l1")
    l2 = run_folder(tmp_path / "runs" / "l2-none", none, "l2")
    scores = {l1: phrase_scores(timbre, follows),
              l2: phrase_scores(none, estimates_for(none, tmp_path / "half", 0.5))}
    objectives = {l1: "l1", l2: "l2"}
    controls = check_controls([l1, l2], objectives, scores)
    assert [c.name.split(":")[0] for c in controls] == ["metric"] * 4 + [
        "learnable rule", "averaging"]
    assert all(c.passed for c in controls), controls_markdown(controls)
    assert "All controls pass" in controls_markdown(controls)
    # The L1 run averages on the control too: the learnable rule fails; without an L2 run the
    # averaging control was not run, which fails as well; the report says inconclusive.
    scores[l1] = phrase_scores(timbre, estimates_for(timbre, tmp_path / "half-timbre", 0.5))
    controls = check_controls([l1], objectives, scores)
    failed = {c.name.split(":")[0]: c for c in controls if not c.passed}
    assert set(failed) == {"learnable rule", "averaging"}
    assert "not run" in failed["averaging"].measured
    assert "inconclusive" in controls_markdown(controls)


def test_the_averaging_control_is_not_fooled_by_a_timbre_rule(tmp_path):
    """On --cue none data an L2 run that keeps every phrase of one timbre and drops the other
    has a mean g near 0.5 but averages nothing: the averaging control fails."""
    none = tmp_path / "none"
    make_ambiguous_dataset(none, sample_rate=RATE, duration=8.0, tracks={"test": 4})
    run = run_folder(tmp_path / "runs" / "l2", none, "l2")
    rng = np.random.default_rng(0)
    estimates = tmp_path / "rule"
    for track in sorted((none / "test").iterdir()):
        phrases = read_phrases(track / "ambiguity.csv")
        lead, rate = read_audio(track / "parts" / "lead.wav")
        backing = read_audio(track / "parts" / "backing.wav")[0]
        share = np.zeros(lead.shape[-1], np.float32)
        for phrase in phrases:  # a coin stands for the timbre: independent of the assignment
            share[int(round(phrase.start * rate)):int(round(phrase.end * rate))] = \
                float(rng.random() < 0.5)
        write_audio(estimates / track.name / "vocals.wav", lead + share * backing, rate,
                    subtype="FLOAT")
    scores = {run: phrase_scores(none, estimates)}
    [averaging] = [c for c in check_controls([run], {run: "l2"}, scores)
                   if c.name.startswith("averaging")]
    assert not averaging.passed and "0.0 % averaged" in averaging.measured
    mean_g = np.mean([s.gain for s in scores[run]])
    assert 0.2 <= mean_g <= 0.8
