"""python -m slerir.data: measure the synthetic sampler's batch() speed."""
import torch

from slerir.data.sampler import TrainSampler, time_batches

torch.set_num_threads(1)
s = TrainSampler(batch=16, patch=64)
print(f"{len(s.images)} images; batch(16 x 64 px): {1000 * time_batches(s, 50):.1f} ms")
