"""The robustness cases: every command against broken inputs and mistaken options, as data.

Each case runs ``gansep ARGS`` in a fresh workspace ``{w}`` (after copying the corpus paths in
``copy`` there); ``{c}`` is the corpus (:mod:`tests.robustness.corpus`). The runner asserts
for every case: the exit status ``code``; no traceback; each of ``says`` in the output (the
culprit: a file, key or value, and what was wrong); none of ``never``; no temporary or hidden
file left; every file of the workspace and the corpus unchanged except those in
``may_change``; ``absent`` paths not created; ``exists`` paths present.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    code: int
    says: tuple[str, ...] = ()
    never: tuple[str, ...] = ()
    copy: tuple[tuple[str, str], ...] = ()
    absent: tuple[str, ...] = ()
    exists: tuple[str, ...] = ()
    may_change: tuple[str, ...] = ()
    needs_no_cuda: bool = False
    tags: tuple[str, ...] = field(default=())

    @property
    def command(self) -> str:
        return self.args[0] if self.args[0] in TOOLS else "fit"


TOOLS = ("separate", "check-data", "export", "evaluate", "score", "sweep", "compare",
         "make-data", "describe", "prepare", "listen", "transcribe", "align", "score-alignment",
         "evaluate-alignment")
UNSAFE = ("weights_only", "Weights only load failed")


def _cases(command: str, common: tuple[str, ...], rows: list[dict]) -> list[Case]:
    return [Case(name=f"{command}-{row.pop('name')}",
                 args=(command, *common, *row.pop("args")) if command != "fit" else
                 (row.pop("sub", "fit"), "--config", "{c}/fit.yaml", *row.pop("args")),
                 **{k: tuple(v) if isinstance(v, list) else v for k, v in row.items()})
            for row in rows]


SEPARATE = _cases("separate", ("--model", "{c}/separator", "--out", "{w}/out"), [
    dict(name="same-stem-two-folders", args=["{c}/audio/a/song.wav", "{c}/audio/b/song.wav"],
         code=2, says=["{c}/audio/a/song.wav", "{c}/audio/b/song.wav", "share an output folder"],
         absent=["{w}/out"]),
    dict(name="same-stem-two-formats", args=["{c}/audio/same"], code=2,
         says=["song.flac", "song.wav", "nothing written"], absent=["{w}/out"]),
    dict(name="segment-seconds-0", args=["{c}/audio/good.wav", "--segment-seconds", "0"],
         code=2, says=["--segment-seconds", "'0'"], absent=["{w}/out"]),
    dict(name="chunk-seconds-negative", args=["{c}/audio/good.wav", "--chunk-seconds", "-1"],
         code=2, says=["--chunk-seconds", "'-1'"], absent=["{w}/out"]),
    dict(name="chunk-seconds-nan", args=["{c}/audio/good.wav", "--chunk-seconds", "nan"],
         code=2, says=["--chunk-seconds"], absent=["{w}/out"]),
    dict(name="batch-size-0", args=["{c}/audio/good.wav", "--batch-size", "0"], code=2,
         says=["--batch-size"], absent=["{w}/out"]),
    dict(name="device-cuda-without-cuda", args=["{c}/audio/good.wav", "--device", "cuda"],
         code=2, says=["--device", "CUDA is not available"], absent=["{w}/out"],
         needs_no_cuda=True),
    dict(name="device-unknown", args=["{c}/audio/good.wav", "--device", "tpu9"], code=2,
         says=["--device", "tpu9"], absent=["{w}/out"]),
    dict(name="empty-file", args=["{c}/audio/empty.wav", "{c}/audio/good.wav"], code=1,
         says=["{c}/audio/empty.wav"], exists=["{w}/out/good/vocals.wav"],
         absent=["{w}/out/empty"]),
    dict(name="header-only", args=["{c}/audio/header-only.wav"], code=1,
         says=["header-only.wav", "0 samples"], absent=["{w}/out/header-only"]),
    dict(name="text-as-audio", args=["{c}/audio/text.wav"], code=1,
         says=["{c}/audio/text.wav", "cannot read"], absent=["{w}/out/text"]),
    dict(name="nan", args=["{c}/audio/nan.wav"], code=1, says=["nan.wav", "NaN"],
         absent=["{w}/out/nan"]),
    dict(name="inf", args=["{c}/audio/inf.wav"], code=1, says=["inf.wav", "infinite"],
         absent=["{w}/out/inf"]),
    dict(name="one-sample", args=["{c}/audio/one.wav"], code=0,
         exists=["{w}/out/one/accompaniment.wav"]),
    dict(name="odd-rate-mono", args=["{c}/audio/odd/8k-mono.wav"], code=0,
         exists=["{w}/out/8k-mono/vocals.wav"]),
    dict(name="three-channels", args=["{c}/audio/odd/3ch.wav"], code=1,
         says=["3ch.wav", "cannot map 3 channels to 2"], absent=["{w}/out/3ch"]),
    dict(name="truncated-wav-warns", args=["{c}/audio/cut-data.wav"], code=0,
         says=["cut-data.wav", "truncated WAV", "missing"],
         exists=["{w}/out/cut-data/vocals.wav"]),
    dict(name="missing-input", args=["{c}/audio/nothing.wav", "{c}/audio/good.wav"], code=1,
         says=["nothing.wav: no such file"], exists=["{w}/out/good/vocals.wav"]),
    dict(name="earlier-output-kept", args=["{c}/audio/text.wav"], code=1,
         copy=[("results/estimates", "out")], says=["text.wav"]),
    dict(name="tampered-rate", args=["{c}/audio/good.wav", "--model", "{c}/exports/rate"],
         code=2, says=["{c}/exports/rate/separator.json", "edited after export"],
         absent=["{w}/out"]),
    dict(name="inconsistent-json", args=["{c}/audio/good.wav", "--model",
                                         "{c}/exports/consistent"], code=2,
         says=["{c}/exports/consistent/separator.json", "sample_rate is 16000",
               "generator.init_args has 22050"], absent=["{w}/out"]),
    dict(name="truncated-json", args=["{c}/audio/good.wav", "--model", "{c}/exports/json-cut"],
         code=2, says=["json-cut/separator.json", "damaged separator description"],
         absent=["{w}/out"]),
    dict(name="tampered-torchscript", args=["{c}/audio/good.wav", "--model", "{c}/exports/ts"],
         code=2, says=["{c}/exports/ts/separator.ts", "SHA-256 differs"], absent=["{w}/out"]),
    dict(name="truncated-weights", args=["{c}/audio/good.wav", "--model",
                                         "{c}/exports/weights"], code=2,
         says=["model.safetensors", "SHA-256 differs"], absent=["{w}/out"]),
    dict(name="model-not-an-export", args=["{c}/audio/good.wav", "--model", "{c}/audio"],
         code=2, says=["{c}/audio", "not a gansep separator folder"], absent=["{w}/out"]),
    dict(name="out-is-a-file", args=["{c}/audio/good.wav", "--out", "{c}/a-file"], code=2,
         says=["{c}/a-file", "is a file"]),
    dict(name="out-below-a-file", args=["{c}/audio/good.wav", "--out", "{c}/a-file/out"],
         code=2, says=["{c}/a-file", "is a file"]),
    dict(name="out-unwritable", args=["{c}/audio/good.wav", "--out", "/proc/1/gansep-out"],
         code=2, says=["/proc/1", "not writable"]),
])

CHECKPOINTS = [("missing", "{c}/ckpt/missing.ckpt", "no such checkpoint file"),
               ("truncated", "{c}/ckpt/truncated.ckpt", "not a readable checkpoint"),
               ("random-bytes", "{c}/ckpt/random.ckpt", "not a readable checkpoint"),
               ("empty", "{c}/ckpt/empty.ckpt", "empty file"),
               ("pickle-payload", "{c}/ckpt/payload.ckpt", "gansep never unpickles code")]

EVALUATE = _cases("evaluate", (), [
    *[dict(name=f"ckpt-{name}", args=["--ckpt", path, "--data", "{c}/toy", "--out", "{w}/out"],
           code=2, says=[path, why], never=UNSAFE, absent=["{w}/out", "{c}/PAYLOAD-RAN"])
      for name, path, why in CHECKPOINTS],
    dict(name="ckpt-foreign", args=["--ckpt", "{c}/ckpt/foreign.ckpt", "--data", "{c}/toy",
                                    "--out", "{w}/out"], code=2,
         says=["foreign.ckpt", "not a gansep checkpoint"], absent=["{w}/out"]),
    dict(name="other-checkpoint-on-resume",
         args=["--ckpt", "{c}/b.ckpt", "--data", "{c}/toy", "--out", "{w}/out"],
         copy=[("results", "out")], code=2,
         says=["{w}/out/test/toy-test-000.json", "checkpoint_sha256", "--overwrite"]),
    dict(name="other-duration-on-resume",
         args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/toy", "--out", "{w}/out", "--duration",
               "1.2"], copy=[("results", "out")], code=2, says=["duration was None, is 1.2"]),
    dict(name="other-backend-on-resume",
         args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/toy", "--out", "{w}/out", "--backend",
               "museval"], copy=[("results", "out")], code=2, says=["backend was 'fast'"]),
    dict(name="overwrite-redoes-other-checkpoint",
         args=["--ckpt", "{c}/b.ckpt", "--data", "{c}/toy", "--out", "{w}/out", "--overwrite"],
         copy=[("results", "out")], code=0,
         may_change=["{w}/out/test/toy-test-000.json", "{w}/out/test/toy-test-001.json",
                     "{w}/out/results.md", "{w}/out/results.csv"]),
    dict(name="same-checkpoint-resumes",
         args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/toy", "--out", "{w}/out"],
         copy=[("results", "out")], code=0,
         may_change=["{w}/out/results.md", "{w}/out/results.csv"]),
    dict(name="hand-cut-json-is-redone",
         args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/toy", "--out", "{w}/out"],
         copy=[("results-cut", "out")], code=0, says=["toy-test-001.json", "unreadable"],
         may_change=["{w}/out/test/toy-test-001.json", "{w}/out/results.md",
                     "{w}/out/results.csv"]),
    dict(name="empty-stem-track", args=["--ckpt", "{c}/a.ckpt", "--data",
                                        "{c}/datasets/empty-stem", "--out", "{w}/out"],
         code=1, says=["toy-test-000/bass.wav"], exists=["{w}/out/test/toy-test-001.json"],
         absent=["{w}/out/test/toy-test-000.json"]),
    dict(name="unequal-rates-track", args=["--ckpt", "{c}/a.ckpt", "--data",
                                           "{c}/datasets/unequal-rates", "--out", "{w}/out"],
         code=1, says=["toy-test-000/bass.wav", "16000 Hz"],
         exists=["{w}/out/test/toy-test-001.json"]),
    dict(name="window-0", args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/toy", "--out", "{w}/out",
                                "--window", "0"], code=2, says=["--window"], absent=["{w}/out"]),
    dict(name="duration-0", args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/toy", "--out",
                                  "{w}/out", "--duration", "0"], code=2, says=["--duration"]),
    dict(name="batch-size-0", args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/toy", "--out",
                                    "{w}/out", "--batch-size", "0"], code=2,
         says=["--batch-size"]),
    dict(name="device-cuda-without-cuda", args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/toy",
                                                "--out", "{w}/out", "--device", "cuda"],
         code=2, says=["CUDA is not available"], needs_no_cuda=True),
    dict(name="out-is-a-file", args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/toy", "--out",
                                     "{c}/a-file"], code=2, says=["{c}/a-file", "is a file"]),
    dict(name="data-missing", args=["--ckpt", "{c}/a.ckpt", "--data", "{c}/nothing", "--out",
                                    "{w}/out"], code=2, says=["{c}/nothing", "does not exist"]),
])

SCORE = _cases("score", (), [
    dict(name="nan-estimate", args=["{c}/toy/test", "{c}/estimates/nan", "--out", "{w}/out"],
         code=1, says=["{c}/estimates/nan/toy-test-000/vocals.wav", "NaN"],
         absent=["{w}/out/test/toy-test-000.json"], exists=["{w}/out/test/toy-test-001.json"]),
    dict(name="against-themselves", args=["{c}/toy/test", "{c}/toy/test", "--out", "{w}/out"],
         code=1, says=["SDR is infinite", "scored against themselves"],
         absent=["{w}/out/test"]),
    dict(name="reference-without-estimate", args=["{c}/toy/test", "{c}/estimates/missing",
                                                  "--out", "{w}/out"], code=1,
         says=["toy-test-001", "no estimates"], exists=["{w}/out/test/toy-test-000.json"]),
    dict(name="wrong-rate", args=["{c}/toy/test", "{c}/estimates/rate", "--out", "{w}/out"],
         code=1, says=["rate/toy-test-000/vocals.wav", "16000 Hz"]),
    dict(name="wrong-channels", args=["{c}/toy/test", "{c}/estimates/channels", "--out",
                                      "{w}/out"], code=1,
         says=["channels/toy-test-000/vocals.wav", "1 channels"]),
    dict(name="text-as-audio", args=["{c}/toy/test", "{c}/estimates/text", "--out", "{w}/out"],
         code=1, says=["text/toy-test-000/vocals.wav", "cannot read"]),
    dict(name="window-0", args=["{c}/toy/test", "{c}/results/estimates", "--out", "{w}/out",
                                "--window", "0"], code=2, says=["--window", "'0'"],
         absent=["{w}/out"]),
    dict(name="hop-negative", args=["{c}/toy/test", "{c}/results/estimates", "--out", "{w}/out",
                                    "--hop", "-1"], code=2, says=["--hop"], absent=["{w}/out"]),
    dict(name="estimates-missing", args=["{c}/toy/test", "{c}/nothing", "--out", "{w}/out"],
         code=2, says=["{c}/nothing", "not a folder"], absent=["{w}/out"]),
    dict(name="out-below-a-file", args=["{c}/toy/test", "{c}/results/estimates", "--out",
                                        "{c}/a-file/x"], code=2, says=["{c}/a-file", "is a file"]),
])

CHECK_DATA = _cases("check-data", (), [
    dict(name="zero-length-track", args=["{c}/datasets/zero-length"], code=1,
         says=["toy-test-000/vocals.wav: empty audio", "toy-train-000/mixture.wav: empty audio",
               "toy-train-001/drums.wav: NaN"]),
    dict(name="empty-stem", args=["{c}/datasets/empty-stem"], code=1,
         says=["toy-train-000/bass.wav", "toy-test-000/bass.wav"]),
    dict(name="truncated-wav", args=["{c}/datasets/cut-wav"], code=1,
         says=["toy-train-001/vocals.wav: truncated WAV", "s missing"]),
    dict(name="unequal-rates", args=["{c}/datasets/unequal-rates"], code=1,
         says=["unequal sample rates"]),
    dict(name="root-missing", args=["{c}/nothing"], code=1, says=["{c}/nothing"]),
    dict(name="tolerance-negative", args=["{c}/toy", "--tolerance", "-1"], code=2,
         says=["--tolerance"]),
    dict(name="sample-rate-0", args=["{c}/toy", "--sample-rate", "0"], code=2,
         says=["--sample-rate"]),
])

EXPORT = _cases("export", ("--out", "{w}/out"), [
    *[dict(name=f"ckpt-{name}", args=[path], code=2, says=[path, why], never=UNSAFE,
           absent=["{w}/out", "{c}/PAYLOAD-RAN"]) for name, path, why in CHECKPOINTS],
    dict(name="out-is-a-file", args=["{c}/a.ckpt", "--out", "{c}/a-file"], code=2,
         says=["{c}/a-file", "is a file"]),
])

MAKE_DATA = _cases("make-data", (), [
    dict(name="non-empty-folder", args=["toy", "{w}/out"], copy=[("audio", "out")], code=2,
         says=["{w}/out", "not empty", "--force"]),
    dict(name="duration-0", args=["toy", "{w}/out", "--duration", "0"], code=2,
         says=["--duration"], absent=["{w}/out"]),
    dict(name="negative-tracks", args=["toy", "{w}/out", "--train", "-1"], code=2,
         says=["--train"], absent=["{w}/out"]),
    dict(name="out-below-a-file", args=["toy", "{c}/a-file/toy"], code=2,
         says=["{c}/a-file", "is a file"]),
    dict(name="sung-lyrics-unpaired", args=["sung-lyrics", "{w}/out", "--unpaired", "2"],
         code=2, says=["--unpaired", "only the toy dataset"], absent=["{w}/out"]),
    dict(name="unknown-kind", args=["karaoke", "{w}/out"], code=2, says=["'karaoke'"],
         absent=["{w}/out"]),
])

SWEEP = _cases("sweep", ("--runs-dir", "{w}/runs"), [
    dict(name="missing-file", args=["{c}/nothing.yaml"], code=2, says=["{c}/nothing.yaml"],
         absent=["{w}/runs"]),
    dict(name="bad-yaml", args=["{c}/bad.yaml"], code=2, says=["{c}/bad.yaml"],
         absent=["{w}/runs"]),
    dict(name="parallel-0", args=["{c}/bad.yaml", "--parallel", "0"], code=2,
         says=["--parallel"], absent=["{w}/runs"]),
])

COMPARE = _cases("compare", (), [
    dict(name="run-without-results", args=["{c}/runs/no-results", "--out", "{w}/out"], code=2,
         says=["{c}/runs/no-results", "no results"], absent=["{w}/out"]),
    dict(name="hand-cut-result", args=["{c}/runs/cut", "--out", "{w}/out"], code=2,
         says=["{c}/runs/cut/results/test/toy-test-001.json", "not a readable museval result"],
         absent=["{w}/out"]),
    dict(name="unknown-baseline", args=["{c}/runs/good", "--out", "{w}/out", "--baseline", "l7"],
         code=2, says=["--baseline 'l7'"], absent=["{w}/out"]),
    dict(name="out-is-a-file", args=["{c}/runs/good", "--out", "{c}/a-file"], code=2,
         says=["{c}/a-file", "is a file"]),
])

DESCRIBE = _cases("describe", (), [
    dict(name="missing-config", args=["--config", "{c}/nothing.yaml"], code=2,
         says=["{c}/nothing.yaml"]),
    dict(name="no-generator", args=["--config", "{c}/no-generator.yaml"], code=2,
         says=["no-generator.yaml holds neither a generator"]),
    dict(name="levels-0", args=["--config", "{c}/levels0.yaml"], code=2,
         says=["levels must be a positive integer, got 0"]),
])

PREPARE = _cases("prepare", ("--cache", "{w}/cache"), [
    dict(name="missing-config", args=["--config", "{c}/nothing.yaml"], code=2,
         says=["nothing.yaml", "does not exist"], absent=["{w}/cache"]),
    dict(name="workers-0", args=["--config", "{c}/fit.yaml", "--workers", "0"], code=2,
         says=["--workers"], absent=["{w}/cache"]),
    dict(name="bad-architecture", args=["--config", "{c}/fit.yaml", "--config",
                                        "{c}/levels0-run.yaml"], code=2,
         says=["levels must be a positive integer, got 0"], absent=["{w}/cache"]),
    dict(name="empty-stem-skipped", args=["--config", "{c}/fit.yaml", "--config",
                                          "{c}/empty-stem-run.yaml"], code=0,
         says=["skipping track toy-train-000", "toy-train-000/bass.wav", "MiB in all"]),
])

BUILD = ("listen", "build", "--references", "{c}/toy/test", "--out", "{w}/t", "--seconds", "1",
         "--trials", "1", "--min-activity", "0.5")
GOOD = "a={c}/results/estimates"
LISTEN = [Case(name=f"listen-{row.pop('name')}", **row) for row in [
    dict(name="build-ok", args=(*BUILD, "--condition", GOOD), code=0,
         exists=("{w}/t/test.json", "{w}/t/index.html")),
    dict(name="build-seconds-20", args=(*BUILD, "--condition", GOOD, "--seconds", "20"), code=2,
         says=("--seconds", "'20'", "at most 12"), absent=("{w}/t",)),
    dict(name="build-condition-without-name", args=(*BUILD, "--condition",
                                                    "{c}/results/estimates"), code=2,
         says=("--condition", "expected NAME=DIR"), absent=("{w}/t",)),
    dict(name="build-reserved-name", args=(*BUILD, "--condition",
                                           "reference={c}/results/estimates"), code=2,
         says=("condition name 'reference'", "reserved"), absent=("{w}/t",)),
    dict(name="build-13-stimuli", args=(*BUILD, *[x for i in range(10) for x in (
        "--condition", f"c{i}={{c}}/results/estimates")]), code=2,
         says=("13 stimuli per trial", "at most 12"), absent=("{w}/t",)),
    dict(name="build-rate-mismatch", args=(*BUILD, "--condition", GOOD, "--condition",
                                           "b={c}/estimates/rate"), code=2,
         says=("condition b, track toy-test-000", "sample rate 16000 Hz"), absent=("{w}/t",)),
    dict(name="build-channels-mismatch", args=(*BUILD, "--condition", GOOD, "--condition",
                                               "b={c}/estimates/channels"), code=2,
         says=("condition b, track toy-test-000", "1 channel(s), the reference has 2"),
         absent=("{w}/t",)),
    dict(name="build-unreadable-estimate", args=(*BUILD, "--condition",
                                                 "b={c}/estimates/text"), code=2,
         says=("estimates/text/toy-test-000/vocals.wav", "cannot read"), absent=("{w}/t",)),
    dict(name="build-no-references", args=("listen", "build", "--references", "{c}/nothing",
                                           "--condition", GOOD, "--out", "{w}/t"), code=2,
         says=("{c}/nothing", "not a folder"), absent=("{w}/t",)),
    dict(name="build-too-many-trials", args=(*BUILD, "--condition", GOOD, "--trials", "50"),
         code=2, says=("51 are needed", "fewer --trials"), absent=("{w}/t",)),
    dict(name="build-out-not-empty", args=("listen", "build", "--references", "{c}/toy/test",
                                           "--condition", GOOD, "--out", "{c}/listen-test"),
         code=2, says=("{c}/listen-test", "not empty")),
    dict(name="serve-not-a-test", args=("listen", "serve", "{c}/toy"), code=2,
         says=("{c}/toy", "not a gansep listening test")),
    dict(name="serve-port-70000", args=("listen", "serve", "{c}/listen-test", "--port", "70000"),
         code=2, says=("--port", "'70000'")),
    dict(name="serve-db-not-sqlite", args=("listen", "serve", "{c}/listen-test", "--db",
                                           "{c}/a-file"), code=2,
         says=("{c}/a-file", "not a usable SQLite database")),
    dict(name="export-db-missing", args=("listen", "export", "--db", "{c}/nothing.sqlite",
                                         "--out", "{w}/r.csv"), code=2,
         says=("{c}/nothing.sqlite", "no such file"), absent=("{w}/r.csv",)),
    dict(name="export-db-not-sqlite", args=("listen", "export", "--db", "{c}/a-file", "--out",
                                            "{w}/r.csv"), code=2,
         says=("{c}/a-file", "not a gansep ratings database"), absent=("{w}/r.csv",)),
    dict(name="export-out-is-a-folder", args=("listen", "export", "--db", "{c}/a-file",
                                              "--out", "{c}/listen"), code=2,
         says=("{c}/listen", "is a folder")),
    dict(name="metrics-not-a-test", args=("listen", "metrics", "{c}/toy", "--out", "{w}/m.csv"),
         code=2, says=("{c}/toy", "not a gansep listening test"), absent=("{w}/m.csv",)),
    dict(name="fit-objective-one-trial", args=("listen", "fit-objective", "--ratings",
                                               "{c}/listen/ratings.csv", "--test",
                                               "{c}/listen-test", "--out", "{w}/f"), code=2,
         says=("1 rated trial(s)", "needs at least 4"), absent=("{w}/f",)),
    dict(name="fit-objective-unknown-term", args=("listen", "fit-objective", "--ratings",
                                                  "{c}/listen/ratings.csv", "--test",
                                                  "{c}/listen-test", "--terms", "l1", "nope",
                                                  "--out", "{w}/f"), code=2,
         says=("--terms", "unknown term(s) nope", "stft-1024"), absent=("{w}/f",)),
    dict(name="fit-objective-not-a-test", args=("listen", "fit-objective", "--ratings",
                                                "{c}/listen/ratings.csv", "--test", "{c}/toy",
                                                "--out", "{w}/f"), code=2,
         says=("{c}/toy", "not a gansep listening test"), absent=("{w}/f",)),
    dict(name="score-perceptual-not-fitted", args=("score", "{c}/toy/test",
                                                   "{c}/results/estimates", "--out", "{w}/s",
                                                   "--perceptual", "{c}/toy"), code=2,
         says=("{c}/toy", "not a fitted perceptual objective"), absent=("{w}/s",)),
    dict(name="sweep-perceptual-not-fitted", args=("sweep", "{c}/bad.yaml", "--perceptual",
                                                   "{c}/listen"), code=2,
         says=("{c}/listen", "not a fitted perceptual objective")),
    dict(name="analyse-missing-ratings", args=("listen", "analyse", "--ratings",
                                               "{c}/nothing.csv", "--out", "{w}/a"), code=2,
         says=("--ratings {c}/nothing.csv", "no such file"), absent=("{w}/a",)),
    dict(name="analyse-rating-150", args=("listen", "analyse", "--ratings",
                                          "{c}/listen/bad-ratings.csv", "--out", "{w}/a"),
         code=2, says=("bad-ratings.csv: row 3", "'150'", "from 0 to 100"), absent=("{w}/a",)),
    dict(name="analyse-no-reference", args=("listen", "analyse", "--ratings",
                                            "{c}/listen/no-reference.csv", "--out", "{w}/a"),
         code=2, says=("--reference 'reference' is not a rated condition", "--no-screening"),
         absent=("{w}/a",)),
    dict(name="analyse-metrics-missing-row", args=(
        "listen", "analyse", "--ratings", "{c}/listen/ratings.csv", "--metrics",
        "{c}/listen/metrics.csv", "--mid-anchor", "anchor-7kHz", "--out", "{w}/a"), code=2,
         says=("no row for trial t01, condition b",), absent=("{w}/a",)),
    dict(name="analyse-aggregate-unknown", args=("listen", "analyse", "--ratings",
                                                 "{c}/listen/ratings.csv", "--aggregate",
                                                 "mode", "--out", "{w}/a"), code=2,
         says=("--aggregate", "'mode'"), absent=("{w}/a",)),
]]

TRANSCRIBE = _cases("transcribe", (), [
    dict(name="ok-and-an-empty-file", args=["--model", "{c}/lyrics-separator", "--words",
                                            "{c}/audio/empty.wav", "{c}/audio/good.wav"],
         code=1, says=["{c}/audio/empty.wav", "{c}/audio/good.wav: "]),
    dict(name="no-lyrics-head", args=["--model", "{c}/separator", "{c}/audio/good.wav"],
         code=2, says=["{c}/separator", "no lyrics head"]),
    dict(name="not-an-export", args=["--model", "{c}/audio", "{c}/audio/good.wav"], code=2,
         says=["{c}/audio", "not a gansep separator folder"]),
    dict(name="beam-negative", args=["--model", "{c}/lyrics-separator", "--beam", "-1",
                                     "{c}/audio/good.wav"], code=2, says=["--beam", "'-1'"]),
    dict(name="nan-audio", args=["--model", "{c}/lyrics-separator", "{c}/audio/nan.wav"],
         code=1, says=["nan.wav", "NaN"]),
])

ALIGN = _cases("align", ("--model", "{c}/lyrics-separator"), [
    dict(name="no-lyrics-head", args=["--model", "{c}/separator", "{c}/audio/good.wav",
                                      "{c}/lyrics/good.txt", "--out", "{w}/w.csv"],
         code=2, says=["{c}/separator", "no lyrics head"], absent=["{w}/w.csv"]),
    dict(name="blank-lyrics", args=["{c}/audio/good.wav", "{c}/lyrics/blank.txt", "--out",
                                    "{w}/w.csv"], code=2,
         says=["{c}/lyrics/blank.txt", "no word"], absent=["{w}/w.csv"]),
    dict(name="missing-lyrics", args=["{c}/audio/good.wav", "{c}/lyrics/nope.txt", "--out",
                                      "{w}/w.csv"], code=2,
         says=["{c}/lyrics/nope.txt"], absent=["{w}/w.csv"]),
    dict(name="lyrics-not-utf8", args=["{c}/audio/good.wav", "{c}/lyrics/latin1.txt", "--out",
                                       "{w}/w.csv"], code=2,
         says=["{c}/lyrics/latin1.txt", "cannot read the lyrics"], absent=["{w}/w.csv"]),
    dict(name="too-many-characters", args=["{c}/audio/good.wav", "{c}/lyrics/long.txt",
                                           "--out", "{w}/w.csv", "--lines", "{w}/l.csv"],
         code=2, says=["{c}/audio/good.wav", "characters need at least", "frames"],
         absent=["{w}/w.csv", "{w}/l.csv"]),
    dict(name="nan-audio", args=["{c}/audio/nan.wav", "{c}/lyrics/good.txt", "--out",
                                 "{w}/w.csv"], code=2, says=["nan.wav", "NaN"],
         absent=["{w}/w.csv"]),
    dict(name="out-is-a-folder", args=["{c}/audio/good.wav", "{c}/lyrics/good.txt", "--out",
                                       "{c}/audio"], code=2, says=["--out", "is a folder"]),
    dict(name="ok-words-and-lines", args=["{c}/audio/good.wav", "{c}/lyrics/good.txt", "--out",
                                          "{w}/w.csv", "--lines", "{w}/l.csv"], code=0,
         says=["6 words in 2 lines aligned"], exists=["{w}/w.csv", "{w}/l.csv"]),
])

SCORE_ALIGNMENT = _cases("score-alignment", (), [
    dict(name="wrong-word-count", args=["{c}/alignment/reference", "{c}/alignment/predictions",
                                        "--out", "{w}/s"], code=2,
         says=["2 song(s) cannot be scored", "1 word(s) predicted for song song", "has 2",
               "{c}/alignment/predictions/other.csv, row 2: word_start 'late'"],
         absent=["{w}/s/alignment.csv"]),
    dict(name="missing-song", args=["{c}/alignment/reference", "{c}/audio", "--out", "{w}/s"],
         code=2, says=["no prediction for 2 song(s)", "other", "song"],
         absent=["{w}/s/alignment.csv"]),
    dict(name="reference-not-a-folder", args=["{c}/nope", "{c}/alignment/predictions",
                                              "--out", "{w}/s"], code=2,
         says=["{c}/nope", "no such folder"]),
    dict(name="tolerance-0", args=["{c}/alignment/reference", "{c}/alignment/predictions",
                                   "--out", "{w}/s", "--tolerance", "0"], code=2,
         says=["--tolerance", "'0'"]),
    dict(name="delay-nan", args=["{c}/alignment/reference", "{c}/alignment/predictions",
                                 "--out", "{w}/s", "--delay", "nan"], code=2,
         says=["--delay", "'nan'"]),
])

EVALUATE_ALIGNMENT = _cases("evaluate-alignment", ("--model", "{c}/lyrics-separator"), [
    dict(name="not-a-lyrics-dataset", args=["--data", "{c}/audio", "--out", "{w}/e"], code=2,
         says=["{c}/audio", "no song with word timings"], absent=["{w}/e"]),
    dict(name="language-without-jamendo", args=["--data", "{c}/audio", "--out", "{w}/e",
                                                "--language", "English"], code=2,
         says=["--language needs a JamendoLyrics folder"], absent=["{w}/e"]),
])

GENERATOR = "--model.init_args.generator.init_args."
FIT = _cases("fit", (), [
    dict(name="extra-filters-0", args=[GENERATOR + "extra_filters", "0"], code=2,
         says=["extra_filters must be a positive integer, got 0"], absent=["{w}/runs"]),
    dict(name="negative-kernel", args=[GENERATOR + "down_kernel", "-3"], code=2,
         says=["down_kernel must be a positive odd integer, got -3"], absent=["{w}/runs"]),
    dict(name="output-length-0", args=[GENERATOR + "output_length", "0"], code=2,
         says=["output_length must be a positive integer, got 0"], absent=["{w}/runs"]),
    dict(name="levels-20-too-large", args=[GENERATOR + "levels", "20", GENERATOR
                                           + "extra_filters", "96"], code=2,
         says=["levels=20", "GiB of activations", "input samples"], absent=["{w}/runs"]),
    dict(name="batch-size-0", args=["--data.batch_size", "0"], code=2,
         says=["data.batch_size must be an integer >= 1, got 0"], absent=["{w}/runs"]),
    *[dict(name=f"ckpt-{name}", args=["--ckpt_path", path], code=2, says=[path, why],
           never=UNSAFE, absent=["{c}/PAYLOAD-RAN"]) for name, path, why in CHECKPOINTS],
    dict(name="validate-ckpt-pickle-payload", sub="validate",
         args=["--ckpt_path", "{c}/ckpt/payload.ckpt"], code=2,
         says=["payload.ckpt", "never unpickles code"], never=UNSAFE,
         absent=["{c}/PAYLOAD-RAN"]),
    dict(name="test-ckpt-truncated", sub="test", args=["--ckpt_path", "{c}/ckpt/truncated.ckpt"],
         code=2, says=["truncated.ckpt", "not a readable checkpoint"]),
    dict(name="empty-stem-skipped", args=["--data.collection.init_args.root",
                                          "{c}/datasets/empty-stem"], code=0,
         says=["skipping track toy-train-000", "toy-train-000/bass.wav"],
         exists=["{w}/runs"]),
    dict(name="header-only-stem-skipped", args=["--data.collection.init_args.root",
                                                "{c}/datasets/header-only-stem"], code=0,
         says=["skipping track toy-train-000", "toy-train-000/bass.wav"]),
    dict(name="too-many-bad-files", args=["--data.collection.init_args.root",
                                          "{c}/datasets/empty-stem", "--data.max_bad_files", "0"],
         code=2, says=["bad training files", "toy-train-000/bass.wav"]),
])

CASES = SEPARATE + EVALUATE + SCORE + CHECK_DATA + EXPORT + MAKE_DATA + SWEEP + COMPARE + \
    DESCRIBE + PREPARE + LISTEN + TRANSCRIBE + ALIGN + SCORE_ALIGNMENT + \
    EVALUATE_ALIGNMENT + FIT
