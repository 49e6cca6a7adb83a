import pytorch_lightning as pl
import torch

from gansep.data import SeparationData, StemsFolder
from gansep.losses import L2, Objective
from gansep.training import Separator
from tests.conftest import tiny_generator


def test_training_lowers_the_loss_and_checkpoints(toy_root, tmp_path):
    pl.seed_everything(0)
    module = Separator(tiny_generator(), Objective([L2()]),
                       optimizer=lambda p: torch.optim.Adam(p, lr=3e-3))
    data = SeparationData(StemsFolder(toy_root), batch_size=4, excerpts_per_epoch=4 * 15,
                          valid_excerpts_per_track=8)
    data.configure(module.generator)
    before = _val_loss(module, data)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_progress_bar=False,
                         default_root_dir=tmp_path, enable_model_summary=False)
    trainer.fit(module, data)
    assert trainer.global_step == 30
    assert _val_loss(module, data) < 0.8 * before
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    # The generator's configuration is stored as plain data: no unpickling needed.
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["gansep"]["generator"]["levels"] == 3
    assert checkpoint["gansep"]["objective"] == "l2"


def _val_loss(module, data) -> float:
    module.eval()
    with torch.no_grad():
        losses = [module.objective(module.generator(b.mixture), b.sources)[0]
                  for b in data.val_dataloader()]
    module.train()
    return float(torch.stack(losses).mean())
