"""Shape ops and indexing (neurona/functional/shape.py)."""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from tests.opcheck import check_op

# (name, fn, numpy reference, input shapes)
SHAPE_OPS = [
    ("reshape", lambda x: x.reshape(4, 6), lambda a: a.reshape(4, 6), [(2, 3, 4)]),
    ("reshape_tuple_minus1", lambda x: x.reshape((-1, 4)), lambda a: a.reshape(-1, 4), [(2, 3, 4)]),
    ("reshape_fn", lambda x: nr.reshape(x, 3, -1), lambda a: a.reshape(3, -1), [(2, 3, 4)]),
    ("reshape_to_0d", lambda x: x.reshape(()), lambda a: a.reshape(()), [(1, 1)]),
    ("reshape_same", lambda x: x.reshape(3, 4), lambda a: a, [(3, 4)]),
    ("view", lambda x: x.view(6, 4), lambda a: a.reshape(6, 4), [(2, 3, 4)]),
    ("view_fn", lambda x: nr.view(x, (24,)), lambda a: a.reshape(24), [(2, 3, 4)]),
    ("flatten", lambda x: x.flatten(), lambda a: a.reshape(-1), [(2, 3, 4)]),
    ("flatten_start1", lambda x: x.flatten(1), lambda a: a.reshape(2, -1), [(2, 3, 4)]),
    ("flatten_0_1", lambda x: x.flatten(0, 1), lambda a: a.reshape(6, 4), [(2, 3, 4)]),
    ("flatten_fn_neg", lambda x: nr.flatten(x, start_dim=-2), lambda a: a.reshape(2, 12), [(2, 3, 4)]),
    ("flatten_0d", lambda x: x.flatten(), lambda a: a.reshape(1), [()]),
    ("transpose_all", lambda x: x.transpose(), lambda a: a.transpose(), [(2, 3, 4)]),
    ("T", lambda x: x.T, lambda a: a.T, [(3, 4)]),
    ("transpose_0_2", lambda x: x.transpose(0, 2), lambda a: np.swapaxes(a, 0, 2), [(2, 3, 4)]),
    ("transpose_neg", lambda x: nr.transpose(x, -1, -2), lambda a: np.swapaxes(a, -1, -2), [(2, 3, 4)]),
    ("permute", lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), [(2, 3, 4)]),
    ("permute_tuple", lambda x: x.permute((1, 2, 0)), lambda a: a.transpose(1, 2, 0), [(2, 3, 4)]),
    ("permute_fn_neg", lambda x: nr.permute(x, 0, -1, 1), lambda a: a.transpose(0, 2, 1), [(2, 3, 4)]),
    ("squeeze_all", lambda x: x.squeeze(), np.squeeze, [(2, 1, 3, 1)]),
    ("squeeze_dim", lambda x: x.squeeze(1), lambda a: np.squeeze(a, 1), [(2, 1, 3, 1)]),
    ("squeeze_neg", lambda x: nr.squeeze(x, -1), lambda a: np.squeeze(a, -1), [(2, 1, 3, 1)]),
    ("squeeze_non1_kept", lambda x: x.squeeze(0), lambda a: a, [(2, 1, 3, 1)]),
    ("squeeze_tuple", lambda x: nr.squeeze(x, (1, 3)), lambda a: np.squeeze(a, (1, 3)), [(2, 1, 3, 1)]),
    ("unsqueeze_0", lambda x: x.unsqueeze(0), lambda a: a[None], [(2, 3)]),
    ("unsqueeze_neg", lambda x: x.unsqueeze(-1), lambda a: a[..., None], [(2, 3)]),
    ("unsqueeze_mid", lambda x: nr.unsqueeze(x, 1), lambda a: a[:, None], [(2, 3)]),
    ("expand", lambda x: x.expand(2, 3, 4), lambda a: np.broadcast_to(a, (2, 3, 4)), [(3, 1)]),
    ("expand_minus1", lambda x: x.expand(-1, 5), lambda a: np.broadcast_to(a, (3, 5)), [(3, 1)]),
    ("expand_tuple", lambda x: nr.expand(x, (4, 2, 3)), lambda a: np.broadcast_to(a, (4, 2, 3)), [(1, 3)]),
    ("broadcast_to", lambda x: nr.broadcast_to(x, (2, 3, 4)), lambda a: np.broadcast_to(a, (2, 3, 4)), [(1, 4)]),
    ("broadcast_to_method", lambda x: x.broadcast_to((3, 2)), lambda a: np.broadcast_to(a, (3, 2)), [()]),
    ("pad_numpy_pairs", lambda x: nr.pad(x, ((1, 0), (2, 1))), lambda a: np.pad(a, ((1, 0), (2, 1))), [(2, 3)]),
    ("pad_torch_last", lambda x: nr.pad(x, (2, 1)), lambda a: np.pad(a, ((0, 0), (0, 0), (2, 1))), [(2, 2, 3)]),
    ("pad_torch_last2", lambda x: nr.pad(x, (1, 2, 0, 1)), lambda a: np.pad(a, ((0, 0), (0, 1), (1, 2))),
     [(2, 2, 3)]),
    ("pad_value", lambda x: nr.pad(x, (1, 1), value=-3.0), lambda a: np.pad(a, (1, 1), constant_values=-3.0),
     [(4,)]),
    ("pad_torch_positional", lambda x: nr.pad(x, (1, 1), "constant", 0.5),
     lambda a: np.pad(a, ((0, 0), (1, 1)), constant_values=0.5), [(2, 3)]),
    ("pad_reflect", lambda x: nr.pad(x, (2, 1), mode="reflect"), lambda a: np.pad(a, ((0, 0), (2, 1)), "reflect"),
     [(2, 4)]),
    ("pad_reflect_2d", lambda x: nr.pad(x, (1, 2, 2, 1), mode="reflect"),
     lambda a: np.pad(a, ((0, 0), (2, 1), (1, 2)), "reflect"), [(2, 3, 4)]),
    ("pad_replicate", lambda x: nr.pad(x, (3, 2, 1, 0), mode="replicate"),
     lambda a: np.pad(a, ((1, 0), (3, 2)), "edge"), [(2, 3)]),
    ("pad_circular", lambda x: nr.pad(x, ((1, 2), (0, 3)), mode="circular"),
     lambda a: np.pad(a, ((1, 2), (0, 3)), "wrap"), [(3, 4)]),
    ("split_int", lambda x: x.split(2, dim=1), lambda a: np.split(a, [2, 4], axis=1), [(3, 5)]),
    ("split_sections", lambda x: nr.split(x, [1, 3, 1], dim=-1), lambda a: np.split(a, [1, 4], axis=1), [(3, 5)]),
    ("split_one_piece", lambda x: nr.split(x, 4), lambda a: [a], [(3, 2)]),
    ("chunk", lambda x: nr.chunk(x, 3), lambda a: np.split(a, [2, 4]), [(5, 2)]),
    ("chunk_dim", lambda x: nr.chunk(x, 2, dim=1), lambda a: np.split(a, [2], axis=1), [(2, 4)]),
    ("cat", lambda a, b: nr.cat([a, b]), lambda a, b: np.concatenate([a, b]), [(2, 3), (4, 3)]),
    ("cat_dim", lambda a, b: nr.cat([a, b], dim=-1), lambda a, b: np.concatenate([a, b], -1), [(2, 3), (2, 1)]),
    ("concatenate_three", lambda a, b, c: nr.concatenate((a, b, c), 1), lambda a, b, c: np.concatenate((a, b, c), 1),
     [(2, 1), (2, 3), (2, 2)]),
    ("cat_same_tensor_twice", lambda a: nr.cat([a, a * 2], axis=0), lambda a: np.concatenate([a, a * 2]), [(2, 3)]),
    ("stack", lambda a, b: nr.stack([a, b]), lambda a, b: np.stack([a, b]), [(2, 3), (2, 3)]),
    ("stack_dim_neg", lambda a, b, c: nr.stack([a, b, c], dim=-1), lambda a, b, c: np.stack([a, b, c], -1),
     [(2, 3), (2, 3), (2, 3)]),
    ("stack_axis1", lambda a, b: nr.stack((a, b), axis=1), lambda a, b: np.stack((a, b), 1), [(4,), (4,)]),
    ("stack_0d", lambda a, b: nr.stack([a, b]), lambda a, b: np.stack([a, b]), [(), ()]),
]


@pytest.mark.parametrize("name,fn,ref,shapes", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_shape_op(name, fn, ref, shapes):
    check_op(fn, ref, shapes)


# the same ops on non-contiguous inputs (transposed, strided, reversed) built inside the function
NONCONTIGUOUS = [
    ("reshape_of_transpose", lambda x: x.T.reshape(-1), lambda a: a.T.reshape(-1), [(3, 4)]),
    ("view_of_strided", lambda x: x[:, ::2].view(2, 6), lambda a: a[:, ::2].reshape(2, 6), [(4, 6)]),
    ("flatten_reversed", lambda x: x[::-1].flatten(), lambda a: a[::-1].reshape(-1), [(3, 4)]),
    ("permute_of_transpose", lambda x: x.transpose(0, 2).permute(1, 0, 2),
     lambda a: np.swapaxes(a, 0, 2).transpose(1, 0, 2), [(2, 3, 4)]),
    ("squeeze_strided", lambda x: x[:, ::2].squeeze(), lambda a: np.squeeze(a[:, ::2]), [(3, 2)]),
    ("unsqueeze_transposed", lambda x: x.T.unsqueeze(1), lambda a: a.T[:, None], [(2, 3)]),
    ("expand_strided", lambda x: x[::2].expand(3, 3, 2), lambda a: np.broadcast_to(a[::2], (3, 3, 2)), [(6, 2)]),
    ("pad_transposed", lambda x: nr.pad(x.T, (1, 2)), lambda a: np.pad(a.T, ((0, 0), (1, 2))), [(2, 3)]),
    ("pad_reflect_strided", lambda x: nr.pad(x[:, ::-2], (2, 2, 1, 1), mode="reflect"),
     lambda a: np.pad(a[:, ::-2], ((1, 1), (2, 2)), "reflect"), [(3, 8)]),
    ("pad_replicate_transposed", lambda x: nr.pad(x.T, (0, 2, 2, 0), mode="replicate"),
     lambda a: np.pad(a.T, ((2, 0), (0, 2)), "edge"), [(2, 3)]),
    ("split_transposed", lambda x: x.T.split(1, dim=1), lambda a: np.split(a.T, 2, axis=1), [(2, 3)]),
    ("cat_mixed_layouts", lambda a, b: nr.cat([a.T, b[::2]], dim=0), lambda a, b: np.concatenate([a.T, b[::2]]),
     [(3, 2), (4, 3)]),
    ("stack_mixed_layouts", lambda a, b: nr.stack([a.T, b[:, ::-1]]), lambda a, b: np.stack([a.T, b[:, ::-1]]),
     [(3, 2), (2, 3)]),
]


@pytest.mark.parametrize("name,fn,ref,shapes", NONCONTIGUOUS, ids=[s[0] for s in NONCONTIGUOUS])
def test_shape_op_noncontiguous(name, fn, ref, shapes):
    check_op(fn, ref, shapes)


def test_reshape_shares_data_like_a_view():
    x = nr.arange(6)
    y = x.view(2, 3)
    assert np.shares_memory(x.array, y.array)


def test_split_and_chunk_sizes_follow_pytorch():
    x = nr.zeros(7, 2)
    assert [t.shape[0] for t in x.split(3)] == [3, 3, 1]
    assert [t.shape[0] for t in nr.chunk(x, 3)] == [3, 3, 1]
    assert [t.shape[0] for t in nr.chunk(nr.zeros(6), 4)] == [2, 2, 2]  # PyTorch also gives 3 chunks here
    assert [t.shape[1] for t in nr.split(x, [1, 1], dim=1)] == [1, 1]


# --- indexing -------------------------------------------------------------------------------

_MASK = np.array([[True, False, True, False, True], [False, False, True, True, False],
                  [True, True, False, False, True], [False, True, False, True, False]])
_ROWS = np.array([True, False, True, True])

INDEXING = [
    ("slice", lambda x: x[1:3]),
    ("slice_2d", lambda x: x[:, 1:4]),
    ("step", lambda x: x[::2]),
    ("negative_step", lambda x: x[::-1]),
    ("negative_steps_2d", lambda x: x[3:0:-2, ::-2]),
    ("int", lambda x: x[2]),
    ("negative_int", lambda x: x[-1]),
    ("two_ints_0d", lambda x: x[1, 2]),
    ("int_and_slice", lambda x: x[1, 1:]),
    ("none", lambda x: x[None]),
    ("none_mid", lambda x: x[:, None]),
    ("ellipsis", lambda x: x[..., 1]),
    ("none_ellipsis_step", lambda x: x[None, ..., ::2]),
    ("int_array", lambda x: x[np.array([3, 0, 1])]),
    ("int_list", lambda x: x[[0, 2]]),
    ("int_array_2d", lambda x: x[np.array([[0, 1], [2, 3]])]),
    ("negative_int_array", lambda x: x[np.array([-1, -4])]),
    ("repeated_ints", lambda x: x[[0, 0, 2, 0]]),
    ("empty_list", lambda x: x[[]]),
    ("repeated_pairs", lambda x: x[[1, 1, 3], [2, 2, 0]]),
    ("repeated_columns", lambda x: x[:, [4, 4, 0]]),
    ("int_array_with_none", lambda x: x[None, [2, 2], 1:3]),
    ("int_array_with_ellipsis", lambda x: x[..., [1, 1, 3]]),
    ("bool_mask_full", lambda x: x[_MASK]),
    ("bool_mask_rows", lambda x: x[_ROWS]),
    ("bool_mask_rows_and_slice", lambda x: x[_ROWS, 1:3]),
    ("bool_mask_columns", lambda x: x[:, _MASK[0]]),
    ("bool_mask_and_int_array", lambda x: x[_ROWS, [0, 0, 4]]),
    ("mixed_int_slice_array", lambda x: x[1:, [0, 2]][::-1]),
]


@pytest.mark.parametrize("name,index", INDEXING, ids=[i[0] for i in INDEXING])
def test_getitem(name, index):
    check_op(index, index, [(4, 5)])


@pytest.mark.parametrize("name,index", INDEXING, ids=[i[0] for i in INDEXING])
def test_getitem_noncontiguous(name, index):
    check_op(lambda x: index(x.T), lambda a: index(a.T), [(5, 4)])


INDEXING_3D = [
    ("mixed_tuple", lambda x: x[1:, [0, 2], None]),
    ("separated_arrays", lambda x: x[[0, 2, 2], 1:3, [1, 4, 4]]),
    ("int_mask_slice", lambda x: x[1, np.array([True, False, True, True]), ::-2]),
    ("ellipsis_int", lambda x: x[..., -1, None]),
]


@pytest.mark.parametrize("name,index", INDEXING_3D, ids=[i[0] for i in INDEXING_3D])
def test_getitem_3d(name, index):
    check_op(index, index, [(3, 4, 5)])


@pytest.mark.parametrize("index_type", ["tensor_int", "tensor_bool", "tuple_of_tensors"])
def test_tensor_as_index(index_type):
    idx = {"tensor_int": nr.tensor([2, 0, 2]), "tensor_bool": nr.tensor(_ROWS),
           "tuple_of_tensors": (nr.tensor([0, 3]), nr.tensor([4, 4]))}[index_type]
    np_idx = tuple(i.array for i in idx) if isinstance(idx, tuple) else idx.array
    check_op(lambda x: x[idx], lambda a: a[np_idx], [(4, 5)])


def test_repeated_indices_accumulate_gradients():
    x = nr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x[[0, 0, 2, 0]]
    (y * nr.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [1 + 2 + 4, 0, 3])


def test_boolean_mask_from_comparison():
    x = nr.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
    y = x[x > 0]
    np.testing.assert_array_equal(y.array, [2, 3])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [[0, 1], [1, 0]])


def test_index_out_of_range():
    with pytest.raises(IndexError):
        nr.zeros(3, 2)[3]


# --- errors -------------------------------------------------------------------------------

SHAPE_ERRORS = [
    ("reshape", lambda: nr.zeros(2, 3).reshape(4, 2), ValueError, r"reshape: .*\(2, 3\) \(6 elements\).*\(4, 2\)"),
    ("cat", lambda: nr.cat([nr.zeros(2, 3), nr.zeros(2, 4)]), ValueError,
     r"cat: .*except along axis 0.*\(2, 3\), \(2, 4\)"),
    ("cat_empty", lambda: nr.cat([]), ValueError, r"cat: expected a non-empty list"),
    ("stack", lambda: nr.stack([nr.zeros(2), nr.zeros(3)]), ValueError, r"stack: .*same shape.*\(2,\), \(3,\)"),
    ("permute", lambda: nr.zeros(2, 3).permute(0, 0), ValueError, r"permute: \(0, 0\) is not a permutation"),
    ("transpose_three_dims", lambda: nr.zeros(2, 3, 4).transpose(2, 0, 1), TypeError, r"transpose: .*use permute"),
    ("transpose_out_of_range", lambda: nr.zeros(2, 3).transpose(0, 2), ValueError, r"transpose: dimension 2"),
    ("squeeze_out_of_range", lambda: nr.zeros(2, 1).squeeze(2), ValueError, r"squeeze: dimension 2"),
    ("unsqueeze_out_of_range", lambda: nr.zeros(2).unsqueeze(3), ValueError, r"unsqueeze: dimension 3"),
    ("expand", lambda: nr.zeros(2, 3).expand(4, 3), ValueError, r"expand: cannot broadcast shape \(2, 3\) to \(4, 3\)"),
    ("split_sizes", lambda: nr.zeros(5).split([2, 2]), ValueError, r"split: sizes \[2, 2\] add up to 4.*size 5"),
    ("split_zero", lambda: nr.zeros(5).split(0), ValueError, r"split: split_size must be positive"),
    ("pad_odd", lambda: nr.pad(nr.zeros(2, 3), (1, 2, 3)), ValueError, r"pad: a flat pad needs an even length"),
    ("pad_pairs", lambda: nr.pad(nr.zeros(2, 3), ((1, 1),)), ValueError, r"pad: expected 2 \(before, after\) pairs"),
    ("pad_negative", lambda: nr.pad(nr.zeros(2, 3), (-1, 0), mode="reflect"), ValueError,
     r"pad: negative padding .* mode 'constant' only"),
    ("pad_crop_too_much", lambda: nr.pad(nr.zeros(2, 3), (-2, -2)), ValueError, r"pad: negative padding .* crops"),
    ("pad_mode", lambda: nr.pad(nr.zeros(2, 3), (1, 1), mode="mirror"), ValueError, r"pad: mode must be one of"),
    ("pad_value_mode", lambda: nr.pad(nr.zeros(2, 3), (1, 1), mode="reflect", value=1.0), ValueError,
     r"pad: value applies to mode 'constant' only"),
    ("pad_reflect_too_wide", lambda: nr.pad(nr.zeros(2, 3), (3, 0), mode="reflect"), ValueError,
     r"pad: reflect padding \(3, 0\) of dimension 1 needs at most 2 on each side .*\(2, 3\)"),
    ("pad_circular_too_wide", lambda: nr.pad(nr.zeros(2, 3), (0, 4), mode="circular"), ValueError,
     r"pad: circular padding \(0, 4\) of dimension 1 needs at most 3"),
    ("flatten_order", lambda: nr.zeros(2, 3, 4).flatten(2, 1), ValueError, r"flatten: start_dim 2 comes after"),
]


@pytest.mark.parametrize("name,call,error,message", SHAPE_ERRORS, ids=[e[0] for e in SHAPE_ERRORS])
def test_shape_errors(name, call, error, message):
    with pytest.raises(error, match=message):
        call()
