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


def _saved(module, path, step=3):
    checkpoint = {"state_dict": module.state_dict(), "global_step": step}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return checkpoint


@pytest.mark.parametrize("module_class", [Separator, GANSeparator])
def test_a_checkpoint_without_the_frozen_weights_reads_them_back_from_its_base(module_class,
                                                                               tmp_path):
    from gansep.checkpoints import CheckpointError, generator_from_checkpoint
    from gansep.separate import separate

    torch.manual_seed(0)
    _saved(Separator(tiny_generator()), tmp_path / "base.ckpt")
    torch.manual_seed(1)
    _saved(Separator(tiny_generator()), tmp_path / "other.ckpt")
    options = dict(init_from=str(tmp_path / "base.ckpt"), freeze=["down.*"], save_frozen=False)
    module = module_class(tiny_generator(), **options)
    with torch.no_grad():  # trained weights that differ from the base's
        for name, parameter in module.generator.named_parameters():
            if parameter.requires_grad:
                parameter.add_(0.01 * torch.randn_like(parameter))
    checkpoint = _saved(module, tmp_path / "last.ckpt")
    kept = [key for key in checkpoint["state_dict"] if key.startswith("generator.")]
    assert kept and not any(key.startswith("generator.down.") for key in kept)
    assert not any(key.startswith("ema.module.down.") for key in checkpoint["state_dict"])
    record = checkpoint["gansep"]["base"]
    assert record["init_from"] == options["init_from"] and len(record["sha256"]) == 64
    assert record["tensors"] and all(name.startswith("down.") for name in record["tensors"])

    with pytest.raises(CheckpointError, match=r"last\.ckpt: holds only the weights that "
                                              r"trained .* give it as the base \(--base\)"):
        generator_from_checkpoint(tmp_path / "last.ckpt")
    with pytest.raises(CheckpointError, match="other.ckpt: SHA-256 .* not its base"):
        generator_from_checkpoint(tmp_path / "last.ckpt", base=tmp_path / "other.ckpt")
    plain, _ = generator_from_checkpoint(tmp_path / "last.ckpt", ema=False,
                                         base=tmp_path / "base.ckpt")
    mixture = torch.randn(2, 8000)
    expected = separate(module.generator.eval(), mixture)
    assert torch.allclose(separate(plain, mixture), expected, atol=1e-6)

    # Resumed (--ckpt_path): the same run config reads the frozen weights from its init_from.
    again = module_class(tiny_generator(), **options)
    stored = torch.load(tmp_path / "last.ckpt", weights_only=False)
    again.on_load_checkpoint(stored)
    again.load_state_dict(stored["state_dict"])
    assert torch.equal(separate(again.generator.eval(), mixture), expected)
    # ... and a run started from other weights is refused.
    other = module_class(tiny_generator(), **{**options, "init_from": str(tmp_path / "other.ckpt")})
    with pytest.raises(CheckpointError, match="its frozen ones are those of .*base.ckpt"):
        other.on_load_checkpoint(torch.load(tmp_path / "last.ckpt", weights_only=False))
    with pytest.raises(ConfigError, match="save_frozen: false needs init_from"):
        module_class(tiny_generator(), save_frozen=False)
