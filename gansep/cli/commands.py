"""The tools of the ``gansep`` command (each a module imported only when it runs) and the
command's description, shared by `gansep.cli.main` and the LightningCLI."""

TOOLS = {
    "describe": ("gansep.cli.describe", "print a model's lengths, context and size"),
    "make-data": ("gansep.cli.make_data",
                  "write a generated dataset (toy, sung-lyrics, ambiguous)"),
    "evaluate": ("gansep.cli.evaluate",
                 "separate and score a test split with a checkpoint (museval format)"),
    "score": ("gansep.cli.score", "score any separator's output folders"),
    "export": ("gansep.cli.export",
               "write a checkpoint's generator as safetensors + JSON + TorchScript"),
    "separate": ("gansep.cli.separate", "separate audio files"),
    "transcribe": ("gansep.cli.transcribe", "transcribe lyrics with a multi-task separator"),
    "align": ("gansep.cli.align:align_main",
              "align lyrics to a song (word timings) with a multi-task separator"),
    "score-alignment": ("gansep.cli.align:score_main",
                        "score word alignments against reference timings (JamendoLyrics)"),
    "evaluate-alignment": ("gansep.cli.align:evaluate_main",
                           "align and score every song of a lyrics dataset, resumably"),
    "ambiguity": ("gansep.cli.ambiguity",
                  "did a separator average or choose the backing vocals of ambiguous data"),
    "check-data": ("gansep.cli.check_data", "list every problem of a dataset"),
    "prepare": ("gansep.cli.prepare", "build the decoded training cache of a run config"),
    "sweep": ("gansep.cli.sweep", "run a wandb-format sweep locally, one process per run"),
    "compare": ("gansep.cli.compare", "compare objectives: tables, box plot, Wilcoxon tests"),
    "listen": ("gansep.cli.listen", "MUSHRA listening tests: build, serve, export, metrics, "
               "analyse"),
    "plugins": ("gansep.cli.plugins",
                "list the installed plugins and the classes files may name through them"),
}

DESCRIPTION = ("gansep: adversarially trained source separation (Wave-U-Net, HT Demucs, "
               "BS-/Mel-band RoFormer, or your own generator).\n"
               "Training and evaluation: gansep fit|validate|test --config FILE [--key value ...]"
               "\nTools: " + "; ".join(f"gansep {name}: {about}"
                                       for name, (_, about) in TOOLS.items())
               + "\nUser errors print one line; GANSEP_DEBUG=1 (or --debug first) shows the "
               "traceback.")

LIGHTNING = {
    "fit": "train a separator from a run config (gansep fit --config configs/demo.yaml)",
    "validate": "run a checkpoint over the validation split of a run config",
    "test": "score a checkpoint on the test split of a run config",
}


def usage() -> str:
    """``gansep --help``: every command with its one-line description."""
    width = max(map(len, [*TOOLS, *LIGHTNING]))
    lines = ["usage: gansep [--debug] COMMAND [options]   (gansep COMMAND --help: its options)",
             "", "gansep: adversarially trained source separation.", "",
             "training (LightningCLI: --config FILE [--key value ...]):"]
    lines += [f"  {name:<{width}}  {about}" for name, about in LIGHTNING.items()]
    lines += ["", "tools:"]
    lines += [f"  {name:<{width}}  {about}" for name, (_, about) in TOOLS.items()]
    lines += ["", "User errors print one line (exit 2); GANSEP_DEBUG=1 or --debug first shows "
              "the traceback."]
    return "\n".join(lines) + "\n"
