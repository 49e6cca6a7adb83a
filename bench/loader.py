"""Training-excerpt throughput per reader: MUSDB18 through musdb.DB, a plain 44.1 kHz stems
folder, and gansep's decoded cache (built from the MUSDB collection), at a model's geometry
(default M4: 147443 input samples at 22.05 kHz, vocals + accompaniment from 4 stems).

    python bench/loader.py [--musdb ROOT] [--is-wav] [--config RUN.yaml] [--workers N]

Without --musdb, a stand-in in MUSDB18's layout is made from generated toy tracks (stem .mp4,
AAC, 44.1 kHz, through stempeg), since MUSDB18 cannot be downloaded here. Each reader runs in
its own process (for its peak RSS); prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEMS = ("mixture", "drums", "bass", "other", "vocals")


def make_standin(out: Path, tracks: int, seconds: float) -> tuple[Path, Path]:
    """A MUSDB18-style stand-in (``train/<name>.stem.mp4``) and the same audio as a 44.1 kHz
    wav stems folder (``train/<name>/<stem>.wav``)."""
    import numpy as np
    import soundfile as sf
    import stempeg

    from gansep.data.audio import resample
    from gansep.data.toy import make_toy_track

    musdb_root, folder_root = out / "musdb", out / "folder"
    for i in range(tracks):
        name = f"standin-{i:03d}"
        stems = make_toy_track((7, 0, i), 22050, seconds)
        audio = {k: resample(v, 22050, 44100) for k, v in stems.items()}
        (musdb_root / "train").mkdir(parents=True, exist_ok=True)
        stempeg.write_stems(str(musdb_root / "train" / f"{name}.stem.mp4"),
                            np.stack([audio[s].T for s in STEMS]), sample_rate=44100,
                            writer=stempeg.StreamsWriter(codec="aac", bitrate=256000))
        for stem in STEMS:
            (folder_root / "train" / name).mkdir(parents=True, exist_ok=True)
            sf.write(folder_root / "train" / name / f"{stem}.wav", audio[stem].T, 44100,
                     subtype="PCM_16")
    (musdb_root / "test").mkdir(exist_ok=True)
    return musdb_root, folder_root


def measure(reader: str, root: str, is_wav: bool, config: str, workers: int,
            excerpts: int, cache_dir: str) -> dict:
    """Runs in a child process: excerpts per second through a DataLoader."""
    import torch
    from torch.utils.data import DataLoader

    from gansep.cli.describe import generator_from_config
    from gansep.data import StemsFolder
    from gansep.data.cache import CachedCollection
    from gansep.data.musdb import MUSDB
    from gansep.data.sampling import ExcerptSpec, TrainingExcerpts

    torch.set_num_threads(1)
    generator = generator_from_config(Path(config))
    spec = ExcerptSpec.of(generator)
    if reader == "folder":
        collection = StemsFolder(root)
    else:
        collection = MUSDB(root, is_wav)
    build = 0.0
    if reader == "cache":
        collection = CachedCollection(collection, cache_dir, spec.sample_rate, spec.channels,
                                      workers=max(1, workers))
        start = time.perf_counter()
        collection.prepare(["train"])
        build = time.perf_counter() - start
    dataset = TrainingExcerpts(collection.tracks("train"), spec, seed=0)
    loader = DataLoader(dataset, batch_size=1, num_workers=workers,
                        sampler=range(excerpts), persistent_workers=False,
                        **({"prefetch_factor": 4} if workers else {}))
    start = time.perf_counter()
    for _ in loader:
        pass
    seconds = time.perf_counter() - start
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return {"reader": reader, "excerpts": excerpts, "seconds": seconds, "build": build,
            "per_worker": excerpts / seconds / max(1, workers),
            "ms": 1000 * seconds * max(1, workers) / excerpts, "peak_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--musdb", type=Path, help="MUSDB18 root (default: a generated stand-in)")
    parser.add_argument("--is-wav", action="store_true", help="MUSDB18-HQ")
    parser.add_argument("--config", default=str(ROOT / "configs/models/m4.yaml"),
                        help="model preset or run config giving the geometry")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--tracks", type=int, default=4, help="stand-in tracks")
    parser.add_argument("--seconds", type=float, default=30.0, help="stand-in track length")
    parser.add_argument("--excerpts", type=int, default=0,
                        help="excerpts per reader (default: 8 for musdb, 200 otherwise)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(**json.loads(args.child))))
        return
    work = Path(tempfile.mkdtemp(prefix="gansep-loader-"))
    if args.musdb:
        readers = [("musdb", str(args.musdb), args.is_wav), ("cache", str(args.musdb), args.is_wav)]
    else:
        musdb_root, folder_root = make_standin(work, args.tracks, args.seconds)
        readers = [("musdb", str(musdb_root), False), ("folder", str(folder_root), False),
                   ("cache", str(musdb_root), False)]
    rows = []
    for reader, root, is_wav in readers:
        count = args.excerpts or (8 if reader == "musdb" else 200)
        child = json.dumps({"reader": reader, "root": root, "is_wav": is_wav,
                            "config": args.config, "workers": args.workers, "excerpts": count,
                            "cache_dir": str(work / "cache")})
        out = subprocess.run([sys.executable, __file__, "--child", child], capture_output=True,
                             text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"Training excerpts ({Path(args.config).name} geometry), {args.workers} worker(s):\n")
    print("| reader | excerpts/s per worker | ms per excerpt | peak RSS (MiB) | cache build (s) |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        build = f"{row['build']:.1f}" if row["reader"] == "cache" else ""
        print(f"| {row['reader']} | {row['per_worker']:.1f} | {row['ms']:.2f} | "
              f"{row['peak_mib']:.0f} | {build} |")


if __name__ == "__main__":
    main()
