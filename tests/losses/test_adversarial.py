import pytest
import torch

from gansep.losses import (GAN, L1, SISDR, Hinge, LSGAN, MultiResolutionSTFT, NonSaturating,
                           Objective, feature_matching)
from gansep.models.discriminators import Judgement, MultiPeriod

REAL = torch.tensor([1.5, 0.0, 0.5])
FAKE = torch.tensor([-2.0, 0.5, 1.0])


def test_lsgan_hand_values():
    # D: mean((r-1)^2) + mean(f^2) = (0.25+1+0.25)/3 + (4+0.25+1)/3 = 0.5 + 1.75
    assert LSGAN().discriminator(REAL, FAKE).item() == pytest.approx(2.25)
    # G: mean((f-1)^2) = (9 + 0.25 + 0)/3
    assert LSGAN().generator(FAKE).item() == pytest.approx(9.25 / 3)


def test_hinge_hand_values():
    # D: mean(relu(1-r)) + mean(relu(1+f)) = (0+1+0.5)/3 + (0+1.5+2)/3
    assert Hinge().discriminator(REAL, FAKE).item() == pytest.approx(1.5 / 3 + 3.5 / 3)
    assert Hinge().generator(FAKE).item() == pytest.approx(0.5 / 3)


def test_non_saturating_hand_values():
    softplus = lambda x: torch.log1p(torch.exp(torch.tensor(x))).item()  # noqa: E731
    expected_d = (softplus(-1.5) + softplus(0.0) + softplus(-0.5)) / 3 + (
        softplus(-2.0) + softplus(0.5) + softplus(1.0)) / 3
    assert NonSaturating().discriminator(REAL, FAKE).item() == pytest.approx(expected_d)
    expected_g = (softplus(2.0) + softplus(-0.5) + softplus(-1.0)) / 3
    assert NonSaturating().generator(FAKE).item() == pytest.approx(expected_g)


def test_feature_matching_hand_value():
    real = [Judgement("a", 0.5, [torch.zeros(2), torch.ones(3), torch.zeros(1)]),
            Judgement("b", 0.5, [torch.ones(2), torch.zeros(1)])]
    fake = [Judgement("a", 0.5, [torch.ones(2), torch.ones(3), torch.full((1,), 9.0)]),
            Judgement("b", 0.5, [torch.full((2,), 3.0), torch.zeros(1)])]
    # a: layers |0-1| = 1, |1-1| = 0 -> mean 0.5; b: |1-3| = 2; logits ignored.
    assert feature_matching(real, fake).item() == pytest.approx(0.5 * 0.5 + 0.5 * 2)


def test_mrstft_is_auraloss_on_every_signal():
    from auraloss.freq import MultiResolutionSTFTLoss

    torch.manual_seed(0)
    estimate, reference = torch.randn(2, 2, 2, 4096), torch.randn(2, 2, 2, 4096)
    ours = MultiResolutionSTFT(fft_sizes=[512, 256], hop_sizes=[128, 64], win_lengths=[512, 256])
    theirs = MultiResolutionSTFTLoss(fft_sizes=[512, 256], hop_sizes=[128, 64],
                                     win_lengths=[512, 256])
    expected = theirs(estimate.reshape(-1, 1, 4096), reference.reshape(-1, 1, 4096))
    assert ours(estimate, reference).item() == pytest.approx(expected.item(), rel=1e-6)


def test_sisdr_hand_value():
    reference = torch.tensor([1.0, -1.0, 1.0, -1.0]).view(1, 1, 1, 4)
    noise = torch.tensor([1.0, 1.0, -1.0, -1.0]).view(1, 1, 1, 4)  # orthogonal, zero mean
    # estimate = reference + 0.5 * noise: SI-SDR = 10 log10(|s|^2 / |0.5 n|^2) = 10 log10(4)
    value = SISDR()(reference + 0.5 * noise, reference)
    assert value.item() == pytest.approx(-10 * torch.log10(torch.tensor(4.0)).item(), rel=1e-5)


def test_gan_term_weights_and_names():
    torch.manual_seed(0)
    d = MultiPeriod(periods=[2, 3], channels=[4, 8]).bind(2, 1)
    gan = GAN(d, Hinge(), weight=0.5, feature_matching=2.0)
    reference, estimate = torch.randn(2, 2, 1, 600), torch.randn(2, 2, 1, 600)
    total, terms = gan.generator_loss(reference, estimate, None)
    assert set(terms) == {"adv_mpd", "fm"}
    assert total.item() == pytest.approx(0.5 * terms["adv_mpd"].item() + 2 * terms["fm"].item(),
                                         rel=1e-5)
    d_total, d_terms = gan.discriminator_loss(reference, estimate, None)
    assert set(d_terms) == {"d_mpd"} and d_total.item() == pytest.approx(d_terms["d_mpd"].item())
    assert Objective([L1()], gan).name == "l1+mpd(hinge+fm)"


def test_a_stand_in_judges_inside_its_block_only_and_is_no_submodule():
    torch.manual_seed(0)
    gan = GAN(MultiPeriod(periods=[2, 3], channels=[4, 8]).bind(2, 1), LSGAN())
    reference, estimate = torch.randn(2, 2, 1, 600), torch.randn(2, 2, 1, 600)
    calls = []

    def stand_in(sources, mixture):  # the same discriminator, counted
        calls.append(sources.shape[0])
        return gan.discriminator(sources, mixture)

    own, _ = gan.generator_loss(reference, estimate, None)
    keys = set(gan.state_dict())
    with gan.stand_in(stand_in):
        assert set(gan.state_dict()) == keys
        standing, _ = gan.generator_loss(reference, estimate, None)
        gan.discriminator_loss(reference, estimate, None)
    assert calls == [2, 4]  # the generator's pass, then real and fake together
    assert standing.item() == pytest.approx(own.item())
    with pytest.raises(RuntimeError), gan.stand_in(stand_in):
        raise RuntimeError("a failing step")
    gan.generator_loss(reference, estimate, None)
    assert calls == [2, 4]  # the term's own discriminator again


def test_feature_matching_reuses_the_discriminator_updates_reference_features():
    torch.manual_seed(0)
    reference, estimate = torch.randn(2, 2, 1, 600), torch.randn(2, 2, 1, 600)
    values, passes = {}, {}
    for reuse in (True, False):
        torch.manual_seed(1)
        gan = GAN(MultiPeriod(periods=[2, 3], channels=[4, 8]).bind(2, 1), LSGAN(),
                  feature_matching=2.0, reuse_real_features=reuse)
        calls = []
        gan.discriminator.register_forward_hook(lambda *_: calls.append(1))
        kept = []  # the caller holds them; the term keeps no state between the passes
        gan.discriminator_loss(reference, estimate, None, keep=kept)
        assert len(kept) == (2 if reuse else 0)  # one judgement per period
        _, terms = gan.generator_loss(reference, estimate, None, real=kept)
        values[reuse], passes[reuse] = terms["fm"].item(), len(calls)
    # The discriminator did not change in between: the same features, one pass fewer.
    assert values[True] == pytest.approx(values[False], rel=1e-6)
    assert passes == {True: 2, False: 3}


# ------------------------------------------------------------------ crops, joint passes
def test_crops_are_aligned_seeded_and_per_example():
    gan = GAN(MultiPeriod(periods=[2], channels=[4]).bind(2, 2), crop_length=100)
    time = torch.arange(1000.0)
    reference = time.expand(3, 2, 2, -1).clone()
    estimate = reference + 0.5
    context = time.expand(3, 2, -1).clone()
    r, e, c = gan.crop(7, reference, estimate, context)
    assert r.shape == (3, 2, 2, 100) and c.shape == (3, 2, 100)
    starts = r[:, 0, 0, 0]
    for k in range(3):  # one contiguous span per example, the same in all three signals
        span = torch.arange(100.0) + starts[k]
        assert torch.equal(r[k, 1, 0], span) and torch.equal(c[k, 0], span)
        assert torch.equal(e[k, 0, 1], span + 0.5)
    assert len(set(starts.tolist())) > 1  # examples get their own spans (3 draws of 901)
    again = gan.crop(7, reference, estimate, context)
    assert all(torch.equal(a, b) for a, b in zip(again, (r, e, c)))  # (seed, step) decides
    assert not torch.equal(gan.crop(8, reference)[0], r)
    assert gan.crop(7, reference[..., :50])[0].shape[-1] == 50  # shorter: left whole
    with pytest.raises(ValueError, match="crop_length must be a positive"):
        GAN(MultiPeriod(periods=[2], channels=[4]), crop_length=0)


def test_generator_gets_gradients_through_the_crop_only():
    gan = GAN(MultiPeriod(periods=[2, 3], channels=[4, 8]).bind(2, 2), crop_length=64,
              feature_matching=2.0)
    reference = torch.randn(2, 2, 2, 512)
    estimate = torch.randn(2, 2, 2, 512, requires_grad=True)
    context = torch.randn(2, 2, 512)
    loss, _ = gan.generator_loss(*gan.crop(3, reference, estimate, context))
    loss.backward()
    touched = (estimate.grad.abs().sum(dim=(1, 2)) > 0).sum(dim=-1)
    assert touched.tolist() == [64, 64]


@pytest.mark.parametrize("family", ["msd", "mpd", "mrsd", "cstft", "combined"])
def test_one_joint_pass_equals_two(family):
    from tests.models.test_discriminators import small

    torch.manual_seed(0)
    gan = GAN(small(family, conditional=True).bind(2, 2)).eval()
    real, fake = torch.randn(3, 2, 2, 2048), torch.randn(3, 2, 2, 2048)
    mixture = torch.randn(3, 2, 2048)
    with torch.no_grad():
        joint_real, joint_fake = gan._judge_together(real, fake, mixture)
        for together, alone in ((joint_real, gan.discriminator(real, mixture)),
                                (joint_fake, gan.discriminator(fake, mixture))):
            for a, b in zip(together, alone):
                for x, y in zip(a.features, b.features):
                    torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)


def test_gradient_penalty_against_a_hand_computed_norm():
    """A linear critic D(x) = sum(w * x) has gradient w everywhere: the penalty must be
    (||w|| - 1)^2 whatever the interpolate, and its gradient must reach w."""
    from torch import nn

    from gansep.losses import Wasserstein
    from gansep.models.discriminators import Discriminator

    class Linear(Discriminator):
        name = "linear"

        def make(self, in_channels):
            net = nn.Conv1d(in_channels, 1, 64, bias=False)  # one logit over 64 samples
            return nn.ModuleList([nn.Sequential(net)])

        def forward(self, sources, mixture=None):
            batch, count, channels, time = sources.shape
            logits = self.nets[0][0](sources.reshape(batch * count, channels, time))
            return [Judgement(self.name, 1.0, [logits])]

    torch.manual_seed(0)
    gan = GAN(Linear().bind(1, 2), Wasserstein(), gradient_penalty=10.0)
    weight = gan.discriminator.nets[0][0][0].weight
    expected = (weight.norm() - 1) ** 2
    reference, estimate = torch.randn(3, 1, 2, 64), torch.randn(3, 1, 2, 64)
    penalty = gan.penalty(reference, estimate, None)
    torch.testing.assert_close(penalty, expected, rtol=1e-5, atol=1e-6)
    penalty.backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0
    loss, terms = gan.discriminator_loss(reference, estimate, None)
    torch.testing.assert_close(terms["gp"], 10 * expected.detach(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["msd", "mpd", "mrsd", "cstft", "combined", "wud"])
def test_gradient_penalty_with_every_family(family):
    """WGAN-GP needs the gradient of the gradient: every family (weight norm, STFTs, the
    conditional mixture) must give a finite penalty that trains the critic."""
    from gansep.losses import Wasserstein
    from tests.models.test_discriminators import small

    torch.manual_seed(0)
    gan = GAN(small(family, conditional=True).bind(2, 2), Wasserstein(), gradient_penalty=10.0)
    reference, estimate = torch.randn(2, 2, 2, 1024), torch.randn(2, 2, 2, 1024)
    loss, terms = gan.discriminator_loss(reference, estimate, torch.randn(2, 2, 1024))
    loss.backward()
    assert torch.isfinite(terms["gp"]) and terms["gp"] > 0
    grads = [p.grad for p in gan.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_freezing_restores_each_parameters_own_flag_even_after_an_error():
    from gansep.training.gan import frozen

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    net[0].weight.requires_grad_(False)  # frozen on purpose: must stay so
    with pytest.raises(RuntimeError, match="inside"):
        with frozen(net):
            assert not any(p.requires_grad for p in net.parameters())
            raise RuntimeError("inside")
    assert [p.requires_grad for p in net.parameters()] == [False, True, True, True]
