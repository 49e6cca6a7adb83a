"""``gansep export``: a checkpoint's generator as a shareable separator folder (see
[`gansep.export.export_separator`][])."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gansep.cli.options import distinct_paths, writable_folder
from gansep.errors import ConfigError
from gansep.export import CONFIG, ONNX, TORCHSCRIPT, VOCABULARY, WEIGHTS, export_separator

log = logging.getLogger(__name__)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gansep export", description=(
        "Write a checkpoint's generator as safetensors + JSON + TorchScript (+ ONNX)."))
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="export folder")
    parser.add_argument("--no-ema", action="store_true", help="raw weights, not the EMA copy")
    parser.add_argument("--onnx", action="store_true",
                        help="also write ONNX (needs the onnx package: gansep[onnx])")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier export in --out")
    parser.add_argument("--base", type=Path,
                        help="the weights a checkpoint of a save_frozen: false run started from "
                             "(its init_from; checked by SHA-256)")
    args = parser.parse_args(argv)
    writable_folder(args.out)
    distinct_paths([("checkpoint", args.checkpoint), ("--base", args.base)],
                   folders=[("--out", args.out)])
    earlier = [args.out / name for name in (WEIGHTS, CONFIG, TORCHSCRIPT, ONNX, VOCABULARY)
               if (args.out / name).exists()]
    if earlier and not args.overwrite:
        raise ConfigError(f"--out {args.out}: holds an earlier export ({earlier[0].name}); "
                          "nothing written: pass --overwrite to replace it, or choose another "
                          "--out")
    config = export_separator(args.checkpoint, args.out, ema=not args.no_ema, onnx=args.onnx,
                              base=args.base)
    log.info("exported %s (%s weights, step %s, sources %s) to %s: %s", args.checkpoint,
             config["weights"], config["step"], ", ".join(config["sources"]), args.out,
             ", ".join(config["files"].values()))
    return 0
