"""neurona.workspace: scratch arrays given back and taken again, under one lifetime rule."""
import threading

import numpy as np

from neurona import workspace


def test_an_array_given_back_is_taken_again():
    workspace.clear()
    a = workspace.take((300, 100), np.float32)
    assert a.shape == (300, 100) and a.dtype == np.float32
    workspace.give(a)
    assert workspace.nbytes() == a.nbytes
    assert workspace.take((300, 100), np.float32) is a
    assert workspace.nbytes() == 0
    assert workspace.take((300, 100), np.float32) is not a  # only once


def test_views_small_arrays_and_other_objects_are_not_kept():
    workspace.clear()
    big = np.empty((300, 100), np.float32)
    workspace.give(big[:10], np.empty(10), None, [1, 2])
    assert workspace.nbytes() == 0
    workspace.give(big, big)  # the same array twice is kept once
    assert workspace.nbytes() == big.nbytes


def test_limits_per_shape_and_in_all(monkeypatch):
    workspace.clear()
    arrays = [np.empty((200, 100), np.float32) for _ in range(workspace.MAX_PER_SHAPE + 2)]
    workspace.give(*arrays)
    assert workspace.nbytes() == workspace.MAX_PER_SHAPE * arrays[0].nbytes
    workspace.clear()
    monkeypatch.setattr(workspace, "MAX_BYTES", arrays[0].nbytes)
    workspace.give(*arrays[:2])
    assert workspace.nbytes() == arrays[0].nbytes


def test_each_thread_has_its_own():
    workspace.clear()
    a = np.empty((300, 100), np.float32)
    workspace.give(a)
    seen = []
    t = threading.Thread(target=lambda: seen.append(workspace.take((300, 100), np.float32) is a))
    t.start()
    t.join()
    assert seen == [False] and workspace.take((300, 100), np.float32) is a
