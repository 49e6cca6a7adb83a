"""Band-split RoPE transformers from the ``bs-roformer`` package: BS-RoFormer (Lu et al.,
"Music Source Separation with Band-Split RoPE Transformer", ICASSP 2024) and Mel-band RoFormer
(Wang et al., "Mel-Band RoFormer for Music Source Separation", 2023), wrapped behind gansep's
generator interface.

``arguments`` are the wrapped class's own (``dim``, ``depth``, ``stft_n_fft``,
``freqs_per_bands`` ...); ``stereo`` and ``num_stems`` (and the mel filter bank's rate) come
from ``channels``, ``sources`` and ``sample_rate``. ``init_from`` takes a state dict as the
package's models save it (``torch.save(model.state_dict())``, or safetensors).
"""

from __future__ import annotations

import torch

from gansep.errors import ConfigError
from gansep.extras import require
from gansep.models.generator import SegmentGenerator


class RoformerGenerator(SegmentGenerator):
    """What both RoFormers share: a complex mask per source on an STFT; inputs are padded to
    a multiple of the STFT hop."""

    derived = ("stereo", "num_stems")
    #: The wrapped class's name in the bs_roformer package.
    upstream_name: str

    @classmethod
    def upstream_class(cls) -> type:
        # Imported on first use: bs_roformer pulls in einx, scipy.signal and librosa (about
        # 3 s), which every other gansep command would pay for at start-up; it is the
        # roformer extra.
        bs_roformer = require("roformer")

        return getattr(bs_roformer, cls.upstream_name)

    @property
    def length_multiple(self) -> int:
        # istft gives back whole hops only: inputs are padded to a multiple of the hop.
        arguments = self.config["arguments"]
        if "stft_hop_length" in arguments:
            return int(arguments["stft_hop_length"])
        return int(self._signature_default("stft_hop_length"))

    @classmethod
    def _signature_default(cls, key: str):
        import inspect

        return inspect.signature(cls.upstream_class()).parameters[key].default

    def build(self, arguments: dict) -> torch.nn.Module:
        if self.channels not in (1, 2):
            raise ConfigError(f"{type(self).__name__}: channels must be 1 or 2 (the package's "
                              f"stereo flag), got {self.channels}")
        # The package checks types (beartype): YAML lists become the tuples it expects.
        arguments = {k: tuple(v) if isinstance(v, list) else v for k, v in arguments.items()}
        return self.upstream_class()(stereo=self.channels == 2, num_stems=len(self.sources),
                             **self.derived_arguments(), **arguments)

    def derived_arguments(self) -> dict:
        return {}

    def checkpoint_blocks(self) -> list[torch.nn.Module]:
        # Every transformer (across time and across bands) of every layer.
        return [transformer for layer in self.model.layers for transformer in layer]

    def separate_segment(self, mixture: torch.Tensor) -> torch.Tensor:
        estimates = self.model(mixture)
        return estimates.unsqueeze(1) if len(self.sources) == 1 else estimates


class BSRoformer(RoformerGenerator):
    """BS-RoFormer (``bs_roformer.BSRoformer``): the spectrum split into bands of fixed widths
    (``freqs_per_bands``, which must sum to ``stft_n_fft // 2 + 1``), with axial transformers
    over time and bands."""

    upstream_name = "BSRoformer"


class MelBandRoformer(RoformerGenerator):
    """Mel-band RoFormer (``bs_roformer.MelBandRoformer``): overlapping bands on the mel scale
    (``num_bands``), whose filter bank is computed for ``sample_rate``."""

    upstream_name = "MelBandRoformer"
    derived = ("stereo", "num_stems", "sample_rate")

    def derived_arguments(self) -> dict:
        return {"sample_rate": self.sample_rate}
