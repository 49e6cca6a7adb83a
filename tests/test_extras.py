"""Optional extras: the core runs without them; a part used without its extra is one line
naming the extra (the modules made unimportable, as in an install without it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gansep.extras import EXTRAS, MissingExtra, require

ROOT = Path(__file__).resolve().parents[1]
#: Runs gansep as if no extra's package were installed: a finder first on the import path
#: that says every module of theirs is not found (so find_spec answers as after uninstalling).
#: matplotlib stays: torchmetrics asks the installed distributions whether it is there, which
#: this cannot hide (in a real install without it, torchmetrics goes on without plots); the
#: plots extra's one line is tested on its own above.
HIDDEN = sorted({m for _, ms in EXTRAS.values() for m in ms} - {"matplotlib"})
WITHOUT_EXTRAS = ("import sys\n"
                  f"HIDDEN = {HIDDEN!r}\n"
                  "class Hidden:\n"
                  "    @staticmethod\n"
                  "    def find_spec(name, path=None, target=None):\n"
                  "        if name.split('.')[0] in HIDDEN:\n"
                  "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
                  "sys.meta_path.insert(0, Hidden)\n"
                  "import importlib.util\n"
                  "found = importlib.util.find_spec\n"
                  "importlib.util.find_spec = lambda name, package=None: (\n"
                  "    None if name.split('.')[0] in HIDDEN else found(name, package))\n"
                  "from gansep.cli.main import main\n"
                  "sys.exit(main(sys.argv[1:]))\n")


def without_extras(args, cwd):
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_missing_is_one_line_naming_it(extra, monkeypatch):
    monkeypatch.setitem(sys.modules, EXTRAS[extra][1][0], None)
    with pytest.raises(MissingExtra, match=f"the {extra} extra: pip install 'gansep\\[{extra}\\]'"):
        require(extra)


@pytest.mark.slow
def test_the_core_trains_without_extras_and_listen_names_its_extra(tmp_path, toy_root):
    import shutil

    shutil.copytree(toy_root, tmp_path / "data" / "toy")
    fit = without_extras(["fit", "--config", ROOT / "configs" / "demo.yaml",
                          "--trainer.max_steps=2", "--trainer.enable_progress_bar=false",
                          "--trainer.limit_val_batches=1",
                          "--trainer.logger.init_args.save_dir=runs"], tmp_path)
    assert fit.returncode == 0, fit.stderr[-2000:]
    assert (tmp_path / "runs" / "demo" / "l1" / "checkpoints" / "last.ckpt").is_file()
    for args, extra in ((["listen", "serve", tmp_path], "listen"),
                        (["describe", "--config", ROOT / "configs/models/demo-htdemucs.yaml"],
                         "demucs"),
                        (["describe", "--config", ROOT / "configs/models/demo-roformer.yaml"],
                         "roformer")):
        refused = without_extras(args, tmp_path)
        assert refused.returncode == 2, refused.stderr[-2000:]
        lines = [line for line in refused.stderr.splitlines() if "gansep[" in line]
        assert len(lines) == 1 and f"gansep[{extra}]" in lines[0] \
            and "Traceback" not in refused.stderr
