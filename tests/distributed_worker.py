"""Run by `torchrun` from tests/test_train.py: trains on this rank once per sampling named (comma-separated,
one launch for all: the processes' start-up is most of the cost) and records, for the test to compare
across ranks, every subnet it trained and a hash of its final weights."""

import hashlib
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from conftest import tiny_train_settings  # noqa: E402

import search.training.train as train  # noqa: E402
from search.training import distributed  # noqa: E402

out, data = Path(sys.argv[1]), Path(sys.argv[2])
trained: list[str] = []
original = train.step_configs


def recording(space, settings, epoch, step):
    configs = original(space, settings, epoch, step)
    trained.extend(c.hash for c in configs)
    return configs


train.step_configs = recording
torch.set_num_threads(1)
d = distributed.init(prefer_gpu=False)
for sampling in sys.argv[3].split(","):
    trained.clear()
    state = train.Trainer(tiny_train_settings(data, epochs=1, sampling=sampling), out / sampling, d).run()
    weights = hashlib.sha256(b"".join(t.detach().numpy().tobytes() for t in state.model.state_dict().values())).hexdigest()
    (out / sampling / f"rank{d.rank}.json").write_text(json.dumps({"world": d.world, "subnets": trained, "weights": weights}))
distributed.shutdown()
