"""Low-rank adapters: only they train, a bad target is named, a checkpoint of an adapted run
loads as a plain network that separates as the adapted one did, and resumes adapted."""

from __future__ import annotations

import pytest
import torch

from gansep.checkpoints import generator_from_checkpoint
from gansep.errors import ConfigError
from gansep.models import LoRA, WaveUNet
from gansep.models.lora import has_lora, merge_lora
from gansep.separate import separate
from gansep.training import Separator

pytest.importorskip("peft", reason="the lora extra (peft) is not installed")


def small() -> WaveUNet:
    torch.manual_seed(0)
    return WaveUNet(sources=["vocals", "accompaniment"], channels=2, sample_rate=8000,
                    levels=3, extra_filters=8, output_length=1024)


def perturb(generator: torch.nn.Module) -> None:
    """Non-zero updates (``B`` starts at zero, so an untrained adapter changes nothing)."""
    with torch.no_grad():
        for name, parameter in generator.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.05)


def test_only_the_adapters_train_and_start_as_the_identity():
    generator = small()
    mixture = torch.randn(1, 2, generator.geometry.input_length)
    before = generator(mixture)
    assert LoRA(rank=2, targets=["down.*"]).apply(generator) == 3
    trained = [name for name, p in generator.named_parameters() if p.requires_grad]
    assert trained and all("lora_" in name and name.startswith("down.") for name in trained)
    assert torch.equal(generator(mixture), before)  # B = 0 at the start
    perturb(generator)
    generator(mixture).square().mean().backward()
    assert all(p.grad is not None for n, p in generator.named_parameters() if p.requires_grad)
    assert all(p.grad is None for n, p in generator.named_parameters() if not p.requires_grad)


def test_bad_settings_are_one_line_naming_the_key():
    for options, says in (({"rank": 0}, "lora rank"), ({"alpha": -1.0}, "lora alpha"),
                          ({"dropout": 1.0}, "lora dropout"), ({"targets": []}, "lora targets")):
        with pytest.raises(ConfigError, match=says):
            LoRA(**options)
    with pytest.raises(ConfigError, match=r"'encoder\.\*' matches no linear or convolution "
                                          r"layer of WaveUNet that an adapter can sit on "
                                          r"\(its layers: down\.0"):
        LoRA(targets=["down.*", "encoder.*"]).apply(small())


class Dilated(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.plain = torch.nn.Conv1d(2, 4, 3, padding=1)
        self.dilated = torch.nn.Conv1d(4, 4, 3, padding=2, dilation=2)
        self.grouped = torch.nn.Conv1d(4, 4, 3, padding=1, groups=2)
        self.reflect = torch.nn.Conv1d(4, 2, 3, padding=1, padding_mode="reflect")

    def forward(self, x):
        return self.reflect(self.grouped(self.dilated(self.plain(x))))


def test_dilated_grouped_and_reflect_padded_convolutions_keep_no_adapter():
    # peft builds a convolution's adapter from kernel, stride and padding only: beside a
    # dilated convolution (HT Demucs's residual branches) its output has another length.
    torch.manual_seed(0)
    network = Dilated()
    assert LoRA(rank=2).layers(network) == ["plain"]
    LoRA(rank=2).apply(network)
    perturb(network)
    x = torch.randn(1, 2, 50)
    adapted = network(x)
    assert adapted.shape == (1, 2, 50)
    merge_lora(network)
    assert torch.allclose(network(x), adapted, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match=r"'dilated' matches no .* \(dilated: a dilated, "
                                          r"grouped or not zero-padded convolution"):
        LoRA(targets=["dilated"]).apply(Dilated())


def test_merging_keeps_the_function_and_leaves_a_plain_network():
    generator = small()
    LoRA(rank=4, alpha=8.0).apply(generator)
    perturb(generator)
    mixture = torch.randn(2, 3 * 8000)
    adapted = separate(generator.eval(), mixture)
    assert merge_lora(generator) == len(LoRA().layers(small()))
    assert not has_lora(generator) and merge_lora(generator) == 0
    assert set(generator.state_dict()) == set(small().state_dict())
    merged = separate(generator, mixture)
    assert ((merged - adapted).abs().max() / adapted.abs().max()).item() < 1e-5


def test_a_checkpoint_of_an_adapted_run_loads_merged_and_resumes_adapted(tmp_path):
    module = Separator(small(), lora=LoRA(rank=2, alpha=4.0, targets=["up.*", "output"]))
    perturb(module.generator)
    checkpoint = {"state_dict": module.state_dict(), "global_step": 2}
    module.on_save_checkpoint(checkpoint)
    assert checkpoint["gansep"]["lora"] == {"rank": 2, "alpha": 4.0,
                                            "targets": ["up.*", "output"], "dropout": 0.0}
    torch.save(checkpoint, tmp_path / "last.ckpt")
    plain, info = generator_from_checkpoint(tmp_path / "last.ckpt")
    assert not has_lora(plain) and info["weights"] == "raw"
    mixture = torch.randn(2, 3 * 8000)
    adapted = separate(module.generator.eval(), mixture)
    merged = separate(plain, mixture)
    assert ((merged - adapted).abs().max() / adapted.abs().max()).item() < 1e-5
    # The same run rebuilt (as --ckpt_path does) takes the adapted weights as they are.
    again = Separator(small(), lora=LoRA(rank=2, alpha=4.0, targets=["up.*", "output"]))
    again.load_state_dict(checkpoint["state_dict"])
    assert torch.equal(separate(again.generator.eval(), mixture), adapted)
    # A damaged lora entry is refused with one line, not a traceback.
    checkpoint["gansep"]["lora"] = {"rank": "eight"}
    torch.save(checkpoint, tmp_path / "bad.ckpt")
    with pytest.raises(Exception, match=r"bad\.ckpt: its lora entry is unusable \(lora rank"):
        generator_from_checkpoint(tmp_path / "bad.ckpt")


def test_an_adversarial_run_adapts_its_generator_and_its_average(tmp_path):
    from gansep.training import GANSeparator

    module = GANSeparator(small(), lora=LoRA(rank=2, targets=["up.*"]), ema_decay=0.9)
    trained = {name for name, p in module.generator.named_parameters() if p.requires_grad}
    assert trained and all("lora_" in name for name in trained)
    assert has_lora(module.ema.module)  # the average follows the adapted network
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, tmp_path / "gan.ckpt")
    plain, info = generator_from_checkpoint(tmp_path / "gan.ckpt")
    assert info["weights"] == "ema" and not has_lora(plain)


def test_a_lora_checkpoint_can_hold_the_adapters_alone(tmp_path):
    """save_frozen: false with LoRA: the checkpoint keeps the adapters (and what else trains),
    not the base weights, and reads as the merged network given its base."""
    base = Separator(small())
    checkpoint = {"state_dict": base.state_dict()}
    base.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, tmp_path / "base.ckpt")
    module = Separator(small(), init_from=str(tmp_path / "base.ckpt"),
                       lora=LoRA(rank=2, targets=["up.*"]), save_frozen=False)
    perturb(module.generator)
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, tmp_path / "lora.ckpt")
    assert all("lora_" in key for key in checkpoint["state_dict"])  # the adapters alone
    plain, _ = generator_from_checkpoint(tmp_path / "lora.ckpt", base=tmp_path / "base.ckpt")
    mixture = torch.randn(2, 3 * 8000)
    adapted = separate(module.generator.eval(), mixture)
    assert ((separate(plain, mixture) - adapted).abs().max() / adapted.abs().max()) < 1e-5
    assert (tmp_path / "lora.ckpt").stat().st_size < (tmp_path / "base.ckpt").stat().st_size / 3


def test_a_rank_that_would_exhaust_the_machine_is_refused_before_allocating():
    generator = small()
    lora = LoRA(rank=4)
    added = lora.added_parameters(generator, lora.layers(generator))
    expected = sum(4 * (m.weight[0].numel() + m.weight.shape[0])
                   for m in generator.modules() if isinstance(m, torch.nn.Conv1d))
    assert added == expected
    before = {name for name, _ in generator.named_parameters()}
    with pytest.raises(ConfigError, match=r"lora rank 4: the adapters add .* refused before "
                                          r"allocating"):
        lora.apply(generator, memory=16 * added - 1)
    assert {name for name, _ in generator.named_parameters()} == before  # nothing added
    with pytest.raises(ConfigError, match="lora rank 1000000000"):
        LoRA(rank=10**9).apply(small())  # this machine's memory
