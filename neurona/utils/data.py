"""``neurona.utils.data``: datasets, samplers and the DataLoader under PyTorch's ``torch.utils.data`` names.

The same objects as :mod:`neurona.data` (one implementation), so PyTorch
code runs with only the import changed::

    from neurona.utils.data import DataLoader, TensorDataset, random_split
"""
from ..data.collate import default_collate, default_convert
from ..data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,
                            random_split)
from ..data.loader import DataLoader, get_worker_info
from ..data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                            WeightedRandomSampler)
from ..distributed.sampler import DistributedSampler

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "random_split",
           "DataLoader", "get_worker_info", "default_collate", "default_convert", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DistributedSampler"]
