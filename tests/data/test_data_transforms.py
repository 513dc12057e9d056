import numpy as np
import pytest

import neurona
from neurona.data import (Compose, DataLoader, GaussianNoise, RandomCrop, RandomHorizontalFlip, RandomRotation,
                          RandomTranslate, RandomVerticalFlip)


def batch(shape=(6, 1, 8, 8), dtype=np.float32):
    return np.random.default_rng(0).random(shape).astype(dtype)


ALL = [  # (make a seeded transform, output height and width for 8×8 inputs)
    (lambda: RandomHorizontalFlip(0.5, seed=1), (8, 8)), (lambda: RandomVerticalFlip(0.5, seed=1), (8, 8)),
    (lambda: RandomRotation(20, seed=1), (8, 8)), (lambda: RandomCrop(6, padding=1, seed=1), (6, 6)),
    (lambda: RandomTranslate(2, seed=1), (8, 8)), (lambda: GaussianNoise(0.1, seed=1), (8, 8)),
]


@pytest.mark.parametrize("make,hw", ALL)
@pytest.mark.parametrize("shape", [(5, 8, 8), (5, 3, 8, 8)])
def test_shapes_dtypes_and_determinism(make, hw, shape):
    x = batch(shape)
    out = make()(x)
    assert out.shape == shape[:-2] + hw and out.dtype == x.dtype
    np.testing.assert_array_equal(make()(x), out)


def test_tensor_in_tensor_out():
    out = RandomRotation(10, seed=0)(neurona.tensor(batch()))
    assert isinstance(out, neurona.Tensor) and out.dtype == np.float32


def test_flip_twice_is_identity_and_flips():
    x = batch((4, 2, 5, 7))
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(RandomHorizontalFlip(1.0)(x)), x)
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(x), x)
    np.testing.assert_array_equal(RandomVerticalFlip(1.0)(x), x[..., ::-1, :])


def test_flip_is_per_image():
    x = batch((200, 4, 4))
    out = RandomHorizontalFlip(0.5, seed=0)(x)
    flipped = np.all(out == x[..., ::-1], axis=(1, 2))
    kept = np.all(out == x, axis=(1, 2))
    assert np.all(flipped | kept) and 50 < flipped.sum() < 150


def test_crop_full_size_without_padding_is_identity():
    x = batch((3, 2, 9, 9))
    np.testing.assert_array_equal(RandomCrop(9, padding=0, seed=0)(x), x)
    np.testing.assert_array_equal(RandomCrop(None)(x), x)


def test_crop_windows_come_from_the_padded_image():
    x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4) + 1
    out = RandomTranslate(1, seed=3)(x)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    for k in range(2):  # each output is one of the 9 shifted windows
        windows = [padded[k, i:i + 4, j:j + 4] for i in range(3) for j in range(3)]
        assert any(np.array_equal(out[k], w) for w in windows)
    with pytest.raises(ValueError, match="larger"):
        RandomCrop(7, padding=1)(x)


def test_rotation_zero_is_identity_and_ninety_is_rot90():
    x = batch((3, 2, 7, 7))
    np.testing.assert_array_equal(RandomRotation(0)(x), x)
    np.testing.assert_array_equal(RandomRotation(0, mode="nearest")(x), x)
    np.testing.assert_allclose(RandomRotation((90, 90))(x), np.rot90(x, axes=(-2, -1)), atol=1e-5)
    np.testing.assert_allclose(RandomRotation((-90, -90), mode="nearest")(x), np.rot90(x, k=-1, axes=(-2, -1)),
                               atol=1e-6)


def test_rotation_fill_and_uint8():
    x = np.full((2, 9, 9), 200, dtype=np.uint8)
    out = RandomRotation((45, 45), fill=0)(x)
    assert out.dtype == np.uint8 and out[:, 4, 4].tolist() == [200, 200] and out[0, 0, 0] == 0
    out = RandomRotation((45, 45), fill=1.0)(np.zeros((1, 9, 9), np.float32))
    assert out[0, 0, 0] == 1.0 and out[0, 4, 4] == 0.0


def test_gaussian_noise_statistics_and_clip():
    x = np.zeros((100, 10, 10), dtype=np.float32)
    out = GaussianNoise(0.5, seed=0)(x)
    assert out.dtype == np.float32 and abs(out.std() - 0.5) < 0.02
    assert GaussianNoise(0.5, clip=(0, 1), seed=0)(x).min() >= 0.0
    assert GaussianNoise(0.1, seed=0)(np.zeros((2, 3), np.uint8)).dtype == np.float32


def test_compose_and_loader_transform_are_seeded():
    x = batch((16, 1, 8, 8))
    y = np.arange(16)

    def aug():
        return Compose([RandomCrop(8, padding=1, seed=0), RandomHorizontalFlip(seed=1), GaussianNoise(0.05, seed=2)])

    a = [b[0].array for b in DataLoader((x, y), batch_size=4, shuffle=True, seed=0, transform=aug())]
    b = [b[0].array for b in DataLoader((x, y), batch_size=4, shuffle=True, seed=0, transform=aug())]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="flat images"):
        RandomRotation(10)(np.zeros((4, 784)))
    with pytest.raises(ValueError, match="probability"):
        RandomHorizontalFlip(1.5)


def test_random_choices_are_drawn_per_image_in_one_call():
    x = np.repeat(batch((1, 1, 9, 9)), 64, axis=0)  # 64 copies of one image
    for t in (RandomRotation(30, seed=0), RandomTranslate(2, seed=0), GaussianNoise(0.1, seed=0)):
        out = t(x)
        distinct = {out[k].tobytes() for k in range(len(out))}
        assert len(distinct) > 8, type(t).__name__  # each copy got its own angle / shift / noise


def test_a_loader_augments_each_epoch_anew_but_reproducibly():
    x = batch((8, 1, 6, 6))
    y = np.arange(8)

    def epochs(seed):
        loader = DataLoader((x, y), batch_size=8, transform=RandomRotation(20, seed=seed))
        return [next(iter(loader))[0].array for _ in range(2)]

    first, second = epochs(1)
    assert not np.array_equal(first, second)  # a fresh draw every epoch
    np.testing.assert_array_equal(epochs(1)[1], second)
