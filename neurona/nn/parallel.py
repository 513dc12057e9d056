"""PyTorch's ``nn.parallel`` names: ``DistributedDataParallel`` lives in ``neurona.distributed``."""
from ..distributed.ddp import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
