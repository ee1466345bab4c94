"""Run under torchrun by test_train.py: a few DDP steps on CPU, then each rank saves its weights."""
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from slerir.train import Trainer, TrainConfig

REPO = Path(__file__).resolve().parents[2]

if __name__ == "__main__":
    out = Path(sys.argv[1])
    tc = TrainConfig(model_overrides={"widths": [8, 16, 32], "enc_blocks": [1, 1], "mid_blocks": 1, "dec_blocks": [1, 1],
                                      "enc_width": 8}, patch=32, batch=2, steps=3, val_every=0, ckpt_every=100,
                     threads=1, out=str(out / "run"), data_root=str(REPO.parent / "shared" / "datasets"))
    tr = Trainer(tc)
    tr.fit(progress=False)
    rank = dist.get_rank()
    save_file({k: v.contiguous() for k, v in tr.model.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
    dist.barrier()
    dist.destroy_process_group()
