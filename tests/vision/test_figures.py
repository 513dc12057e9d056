"""The vision figures draw (small sizes; matplotlib's object API, written atomically) and the task runner draws
each task's figures from its result."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from neurona.vision import figures as F  # noqa: E402
from neurona.vision import tasks  # noqa: E402


def test_every_figure_draws(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((3, 1, 16, 16)).astype(np.float32)
    masks = rng.integers(0, 11, (3, 16, 16))
    F.segmentation_figure(images, masks, masks, tmp_path / "seg.png", n=2)
    det = [{"boxes": np.array([[1.0, 2.0, 9.0, 12.0]]), "scores": np.array([0.8]), "labels": np.array([3])}] * 2
    F.detection_figure(images, det, [{"boxes": np.array([[1.0, 1.0, 8.0, 8.0]])}] * 2, tmp_path / "det.png", n=2)
    F.image_rows_figure([images, images], ["a", "b"], tmp_path / "rows.png", n=3)
    F.image_grid_figure(images * 2 - 1, 2, 2, "grid", tmp_path / "grid.png", value_range=(-1, 1))
    F.latent_map_figure(rng.standard_normal((20, 2)), rng.integers(0, 10, 20), rng.random((4, 1, 16, 16)),
                        path=tmp_path / "latent.png")
    for name in ("seg", "det", "rows", "grid", "latent"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    t = F.tile(images, 2, 2)
    assert t.shape == (32, 32) and (t[16:, 16:] == 0).all()  # the missing fourth image is blank
    np.testing.assert_array_equal(t[:16, 16:], images[1, 0])
