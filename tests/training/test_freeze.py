"""Fine-tuning part of a generator: frozen parameters get no gradient and no optimiser state,
and stay as they were; a pattern that matches nothing is refused."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from gansep.data import SeparationData, StemsFolder
from gansep.errors import ConfigError
from gansep.training import GANSeparator, Separator
from tests.conftest import tiny_generator


@pytest.mark.parametrize("module_class", [Separator, GANSeparator])
def test_frozen_parameters_do_not_train(module_class, toy_root):
    torch.manual_seed(0)
    module = module_class(tiny_generator(), freeze=["down.*", "bottleneck.bias"])
    before = {n: p.detach().clone() for n, p in module.generator.named_parameters()}
    frozen = {n for n in before if n.startswith("down.") or n == "bottleneck.bias"}
    trainer = pl.Trainer(max_steps=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(module, SeparationData(StemsFolder(toy_root), batch_size=2,
                                       excerpts_per_epoch=4))
    optimizer = trainer.optimizers[0]
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    for name, parameter in module.generator.named_parameters():
        if name in frozen:
            assert torch.equal(parameter, before[name]), name
            assert id(parameter) not in in_optimizer and not parameter.requires_grad
        else:
            assert id(parameter) in in_optimizer
    assert any(not torch.equal(p, before[n]) for n, p in module.generator.named_parameters()
               if n not in frozen)


def test_a_pattern_that_matches_nothing_or_everything_is_refused():
    with pytest.raises(ConfigError, match="'dwon.*' matches no parameter of WaveUNet"):
        Separator(tiny_generator(), freeze=["dwon.*"])
    with pytest.raises(ConfigError, match="nothing would train"):
        Separator(tiny_generator(), freeze=["*"])
