"""Datasets: track collections (folders of stems, MUSDB18, generated toy data) and sampling."""

from gansep.data.audio import DataError, read_audio, resample, write_audio
from gansep.data.dali import DALI
from gansep.data.folder import StemsFolder
from gansep.data.jamendo import JamendoLyrics
from gansep.data.moisesdb import MoisesDB
from gansep.data.musdb import MUSDB
from gansep.data.sampling import Augmentation, ExcerptSpec
from gansep.data.toy import make_toy_dataset
from gansep.data.tracks import Track, TrackCollection
from gansep.data.unpaired import UnpairedSources

__all__ = ["Augmentation", "DALI", "DataError", "ExcerptSpec", "JamendoLyrics", "MUSDB",
           "MoisesDB", "SeparationData", "StemsFolder",
           "Track", "TrackCollection", "UnpairedSources", "make_toy_dataset", "read_audio",
           "resample", "write_audio"]


def __getattr__(name: str):
    # The DataModule imports Lightning (seconds); the tools that only read audio do not need it.
    if name == "SeparationData":
        from gansep.data.datamodule import SeparationData

        return SeparationData
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
