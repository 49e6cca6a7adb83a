"""The ``gansep`` command: LightningCLI (fit, validate, test, predict; see
`gansep.cli.lightning`) plus gansep's own tools, each imported only when it runs.

A user error (a bad file, option, configuration or checkpoint: see `gansep.errors`) is
printed as one line naming the culprit, with exit status 2; ``--debug`` as the first argument
or ``GANSEP_DEBUG=1`` shows its traceback instead."""

from __future__ import annotations

import logging
import os
import re
import sys

from gansep.cli.commands import LIGHTNING, TOOLS, usage
from gansep.errors import ConfigError, user_message

log = logging.getLogger("gansep")


# Lightning's advertisements, deprecations inside Lightning itself, and notes about its own
# defaults: noise to gansep's users, who can do nothing about them (GANSEP_DEBUG=1 keeps them).
# (The seed is in the run config, which Lightning saves beside the logs.)
_NOISE = ("💡 Tip:", "Seed set to ", "`weights_only` was not set", "isinstance(treespec, LeafSpec)",
          "is an instance of `nn.Module` and is already saved during checkpointing")


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in _NOISE)


def silence_lightning_noise() -> None:
    """Drops `_NOISE` from Lightning's log records and warnings."""
    import warnings

    quiet = _Quiet()
    # Records reach the handlers of the root logger (or of Lightning's own, when it has them).
    for name in ("", "pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(quiet)
    for text in _NOISE:
        warnings.filterwarnings("ignore", message=".*" + re.escape(text))


def _terminate(signum, frame):
    # SIGTERM as an exception: atomic writes remove their temporary files on the way out.
    raise SystemExit(128 + signum)


def check_config_files(args: list[str]) -> None:
    """ConfigError naming a ``--config`` file that is not UTF-8 text (a binary file given by
    mistake), before a parser fails on it with a decoding traceback."""
    for index, arg in enumerate(args):
        value = args[index + 1] if arg == "--config" and index + 1 < len(args) else \
            arg.partition("=")[2] if arg.startswith("--config=") else None
        if value is None or not os.path.isfile(value):
            continue
        try:
            with open(value, "rb") as handle:
                text = handle.read(1 << 20).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(f"--config {value}: not a text (UTF-8) configuration file (byte "
                              f"{error.start} is {error.object[error.start]:#04x}); expected "
                              "YAML") from None
        except OSError:
            continue  # the parser says what is wrong with the path
        if "\0" in text:
            raise ConfigError(f"--config {value}: not a text configuration file (it holds NUL "
                              "bytes); expected YAML")


def _run(command: str, args: list[str], from_sys_argv: bool) -> int:
    check_config_files(args)
    if command in TOOLS:
        import importlib
        import signal

        signal.signal(signal.SIGTERM, _terminate)  # (Lightning handles it for fit itself)

        module_name, _, function = TOOLS[command][0].partition(":")
        entry = getattr(importlib.import_module(module_name), function or "main")
        return entry(args) or 0
    if command == "predict":
        raise ConfigError("predict is not a gansep command: separate audio files with gansep "
                          "separate --model EXPORT_DIR FILES --out DIR (an export from gansep "
                          "export), or score a split with gansep test / gansep evaluate")
    # Lightning is imported only here: the tools start in a fraction of its import time.
    from gansep.cli.lightning import lightning_cli

    silence_lightning_noise()
    lightning_cli(None if from_sys_argv else args)
    return 0


#: The sub-commands of ``gansep listen``, whose help `--build-help` builds too.
LISTEN = ("build", "serve", "export", "metrics", "analyse", "fit-objective")


def _in_process(args: list[str]) -> int:
    command = args[0]
    return _run(command, args[1:] if command in TOOLS else args, False)


def _help(args: list[str]) -> int:
    """``gansep COMMAND --help`` from the help cache (see `gansep.cli.helptext`), built on a
    miss; ``gansep --build-help`` builds every command's."""
    from gansep.cli import helptext

    if args == ["--build-help"]:
        commands = [[name] for name in (*LIGHTNING, *TOOLS)] + [["listen", name]
                                                               for name in LISTEN]
        return helptext.build_all(_in_process, commands)
    text = helptext.cached(args)
    if text is None:
        text, code = helptext.build(args, _in_process)
        if code:
            return code
    sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    debug = os.environ.get("GANSEP_DEBUG", "") not in ("", "0")
    if args[:1] == ["--debug"]:
        args, debug = args[1:], True
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = args[0] if args else ""
    if command in ("", "-h", "--help"):
        sys.stdout.write(usage())
        return 0 if command else 2
    from gansep.cli.helptext import is_help

    if args == ["--build-help"] or (is_help(args) and command in (*TOOLS, *LIGHTNING)):
        return _help(args)
    try:
        return _run(command, args[1:] if command in TOOLS else args,
                    argv is None and not debug)
    except KeyboardInterrupt:
        log.error("gansep %s: interrupted", command)
        return 130
    except Exception as error:  # noqa: BLE001 - user errors become one line, bugs re-raise
        message = user_message(error)
        if message is None or debug:
            raise
        log.error("gansep %s: %s", command, message)
        return 2


if __name__ == "__main__":
    sys.exit(main())
