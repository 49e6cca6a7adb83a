"""``gansep COMMAND --help`` from the help cache: the same text the command prints, built on
a miss, kept per source digest, and read without importing torch or Lightning."""

from __future__ import annotations

import subprocess
import sys

from gansep.cli import helptext
from gansep.cli.main import main


def test_help_is_built_once_and_then_read_from_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANSEP_CACHE", str(tmp_path))
    assert main(["describe", "--help"]) == 0
    built = capsys.readouterr().out
    assert built.startswith("usage: gansep describe") and "--config" in built
    kept = list((tmp_path / "help").glob("*/describe.txt"))
    assert len(kept) == 1 and kept[0].read_text() == built
    assert kept[0].parent.name == helptext.source_key()
    kept[0].write_text("the kept text\n")  # the next call reads it, and builds nothing
    assert main(["describe", "--help"]) == 0
    assert capsys.readouterr().out == "the kept text\n"


def test_only_a_plain_command_help_is_cached():
    assert helptext.is_help(["fit", "--help"]) and helptext.is_help(["listen", "build", "-h"])
    assert not helptext.is_help(["fit", "--config", "x.yaml", "--help"])
    assert not helptext.is_help(["--help"]) and not helptext.is_help(["fit"])


def test_a_cached_help_imports_neither_torch_nor_lightning(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSEP_CACHE", str(tmp_path))
    assert main(["separate", "--help"]) == 0  # builds it (this process has torch anyway)
    code = ("import sys; from gansep.cli.main import main; main(['separate', '--help']); "
            "sys.stderr.write(str(sorted(m for m in ('torch', 'pytorch_lightning') "
            "if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**__import__("os").environ, "GANSEP_CACHE": str(tmp_path)},
                            check=True)
    assert result.stdout.startswith("usage: gansep separate") and result.stderr.endswith("[]")
