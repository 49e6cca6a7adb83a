"""gansep: adversarially trained Wave-U-Net source separation."""

from gansep.version import __version__


def load_separator(folder, device: str = "cpu"):
    """Loads an exported separator folder; see [`gansep.export.load_separator`][]."""
    from gansep.export import load_separator as load

    return load(folder, device)
