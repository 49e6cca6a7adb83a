"""Datasets: track collections (folders of stems, MUSDB18, generated toy data) and sampling."""

from gansep.data.audio import DataError, read_audio, resample, write_audio
from gansep.data.datamodule import SeparationData
from gansep.data.folder import StemsFolder
from gansep.data.musdb import MUSDB
from gansep.data.sampling import Augmentation, ExcerptSpec
from gansep.data.toy import make_toy_dataset
from gansep.data.tracks import Track, TrackCollection

__all__ = ["Augmentation", "DataError", "ExcerptSpec", "MUSDB", "SeparationData", "StemsFolder",
           "Track", "TrackCollection", "make_toy_dataset", "read_audio", "resample",
           "write_audio"]
