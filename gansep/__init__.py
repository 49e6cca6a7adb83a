"""gansep: adversarially trained music and singing-voice source separation (Wave-U-Net, HT
Demucs, BS-/Mel-band RoFormer, or your own generator through a plugin)."""

from gansep.version import __version__


def load_separator(folder, device: str = "cpu"):
    """Loads an exported separator folder; see [`gansep.export.load_separator`][]."""
    from gansep.export import load_separator as load

    return load(folder, device)
