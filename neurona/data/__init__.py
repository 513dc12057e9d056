"""Data for training: datasets, the DataLoader, preprocessing and augmentation.

>>> from neurona.data import DataLoader, fashion_mnist, Standardizer
>>> x, y = fashion_mnist("train", as_float=True, layout="flat")
>>> sc = Standardizer().fit(x)
>>> loader = DataLoader((sc.transform(x), y), batch_size=64, shuffle=True, seed=0)
>>> for xb, yb in loader: ...     # xb float32 Tensor (64, 784), yb int64 Tensor (64,)
"""
from . import transforms
from .bundle import DataBundle, load_dataset
from .collate import default_collate, default_convert
from .dataset import (ArrayDataset, ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, collate,
                      random_split)
from .fashion import (CLASSES, DatasetNotFoundError, EmbeddedSubsetWarning, FashionMNIST, fashion_mnist,
                            fashion_mnist_small)
from .files import DataError, MissingArrayError, load_csv, load_npz, load_npz_array, npz_names, read_feature_rows
from .idx import IDXError, read_idx
from .images import image_size, read_image
from .loader import DataLoader, get_worker_info
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)
from .preprocessing import MinMaxScaler, Standardizer, one_hot, train_val_split
from .scale import match_training_range, range_from_scaler
from .sklearn_sets import load_sklearn
from .toy import make_circle, make_gaussians, make_spiral, make_xor
from .transforms import (Compose, GaussianNoise, RandomCrop, RandomHorizontalFlip, RandomRotation, RandomTranslate,
                         RandomVerticalFlip)

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "ArrayDataset", "Subset", "ConcatDataset", "ChainDataset",
    "random_split", "collate", "default_collate", "default_convert", "DataLoader", "get_worker_info",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
    "fashion_mnist", "fashion_mnist_small", "FashionMNIST", "CLASSES", "DatasetNotFoundError",
    "EmbeddedSubsetWarning", "read_idx", "IDXError",
    "make_circle", "make_xor", "make_gaussians", "make_spiral", "load_sklearn", "load_csv", "load_npz",
    "load_npz_array", "npz_names", "read_feature_rows", "read_image", "image_size", "DataError", "MissingArrayError",
    "load_dataset", "DataBundle", "match_training_range", "range_from_scaler",
    "Standardizer", "MinMaxScaler", "one_hot", "train_val_split",
    "transforms", "Compose", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation", "RandomCrop",
    "RandomTranslate", "GaussianNoise",
]
