"""ClassicMLP: shapes, weights, and what it says when used wrongly."""
import numpy as np
import pytest

from neurona.classic import ClassicMLP, LeakyReLU, NotDifferentiableError


def test_forward_and_backward_shapes_follow_the_notes():
    net = ClassicMLP([5, 3, 4, 2], activations=["tanh", "relu"], output="linear")
    assert [net.W[l].shape for l in (1, 2, 3)] == [(3, 5), (4, 3), (2, 4)]  # W^(l) ∈ R^{M_l × M_{l-1}}
    assert [net.w0[l].shape for l in (1, 2, 3)] == [(3,), (4,), (2,)]
    assert net.W[0] is None and net.w0[0] is None and net.L == 3
    X, T = np.ones((7, 5)), np.zeros((7, 2))
    p = net.forward(X)
    assert p.a[0] is None and p.z[0] is not None and np.array_equal(p.z[0], X)
    assert [p.a[l].shape for l in (1, 2, 3)] == [(7, 3), (7, 4), (7, 2)]
    assert [p.z[l].shape for l in (1, 2, 3)] == [(7, 3), (7, 4), (7, 2)]
    g = net.backward(X, T)
    assert g.delta[0] is None and [g.delta[l].shape for l in (1, 2, 3)] == [(7, 3), (7, 4), (7, 2)]
    assert [g.dW[l].shape for l in (1, 2, 3)] == [(3, 5), (4, 3), (2, 4)]
    assert [g.dw0[l].shape for l in (1, 2, 3)] == [(3,), (4,), (2,)]
    assert [a.shape for a in g.as_list()] == [w.shape for w in net.get_weights()]
    assert net.predict(X).shape == (7, 2)
    assert g.loss == pytest.approx(net.loss(X, T))


def test_weights_round_trip_as_copies():
    a, b = ClassicMLP([2, 3, 1], seed=0), ClassicMLP([2, 3, 1], seed=1)
    w = a.get_weights()
    assert [x.shape for x in w] == [(3, 2), (3,), (1, 3), (1,)]
    w[0][0, 0] = 123.0
    assert a.W[1][0, 0] != 123.0  # get_weights copies
    b.set_weights(a.get_weights())
    X = np.random.default_rng(0).standard_normal((4, 2))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    src = a.get_weights()
    b.set_weights(src)
    src[0][:] = 0
    assert not np.all(b.W[1] == 0)  # set_weights copies


def test_set_weights_errors():
    net = ClassicMLP([2, 3, 1])
    with pytest.raises(ValueError, match="expected 4 arrays"):
        net.set_weights(net.get_weights()[:3])
    w = net.get_weights()
    w[2] = np.zeros((3, 1))
    with pytest.raises(ValueError, match=r"layer 2 needs W2 of shape \(1, 3\) and w0_2 of shape \(1,\), got \(3, 1\)"):
        net.set_weights(w)


def test_input_and_target_shape_errors():
    net = ClassicMLP([3, 4, 2])
    with pytest.raises(ValueError, match=r"forward: expected inputs X of shape \(N, 3\).*got shape \(5, 2\)"):
        net.forward(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        net.predict(np.ones(3))
    with pytest.raises(ValueError, match=r"backward: expected targets T of shape \(5, 2\).*got shape \(5, 3\)"):
        net.backward(np.ones((5, 3)), np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"fit: expected targets T of shape \(5, 2\)"):
        net.fit(np.ones((5, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"online_step: expected one sample x of shape \(3,\)"):
        net.online_step(np.ones((2, 3)), np.ones(2), lr=0.1)


def test_targets_as_vectors_and_class_indices():
    net = ClassicMLP([2, 3, 1])
    X = np.ones((4, 2))
    assert net.loss(X, np.zeros(4)) == net.loss(X, np.zeros((4, 1)))
    clf = ClassicMLP([2, 3, 3], output="softmax", loss="cross_entropy")
    assert clf.loss(X, np.array([0, 2, 1, 1])) == pytest.approx(clf.loss(X, np.eye(3)[[0, 2, 1, 1]]))
    with pytest.raises(ValueError, match=r"class indices must lie in 0..2, got 0..3"):
        clf.loss(X, np.array([0, 3, 1, 1]))


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(sizes=[2]), ValueError, "at least two positive integers"),
    (dict(sizes=[2, 0, 1]), ValueError, "at least two positive integers"),
    (dict(sizes=[2, 2.5, 1]), ValueError, "at least two positive integers"),
    (dict(sizes="abc"), TypeError, "sizes must be a list"),
    (dict(sizes=[2, 3, 3, 1], activations=["tanh"]), ValueError, "has 2 hidden layers, but 1 hidden"),
    (dict(sizes=[2, 3, 1], activations="swish"), ValueError, "unknown activation 'swish'"),
    (dict(sizes=[2, 3, 1], loss="hinge"), ValueError, "unknown loss 'hinge'"),
    (dict(sizes=[2, 3, 1], loss="cross_entropy"), ValueError, "needs output='softmax'.*got output='identity'"),
    (dict(sizes=[2, 3, 1], output="softmax"), ValueError, "softmax over 1 output is always 1"),
    (dict(sizes=[2, 3, 2], activations="softmax"), ValueError, "hidden layer 1 cannot use it"),
    (dict(sizes=[2, 3, 1], dtype=np.int64), TypeError, "dtype must be a floating type"),
])
def test_constructor_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        ClassicMLP(**kwargs)


def test_fit_argument_errors():
    net = ClassicMLP([1, 2, 1])
    X, T = np.ones((3, 1)), np.ones((3, 1))
    with pytest.raises(ValueError, match="unknown mode 'stochastic'"):
        net.fit(X, T, mode="stochastic")
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        net.fit(X, T, mode="minibatch", batch_size=0)
    with pytest.raises(ValueError, match="epochs must be a non-negative integer"):
        net.fit(X, T, epochs=-1)


def test_step_units_evaluate_but_cannot_be_trained():
    # XOR from threshold units with hand-set weights: h1 = OR, h2 = AND, out = h1 AND NOT h2
    net = ClassicMLP([2, 2, 1], activations="step", output="step")
    net.set_weights([np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([-0.5, -1.5]),
                     np.array([[1.0, -1.0]]), np.array([-0.5])])
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(net.predict(X).ravel(), [0, 1, 1, 0])
    T = np.array([[0.0], [1.0], [1.0], [0.0]])
    with pytest.raises(NotDifferentiableError, match="fit: hidden layer 1 uses 'step'.*cannot train"):
        net.fit(X, T)
    sign_out = ClassicMLP([2, 2, 1], activations="tanh", output="sign")
    with pytest.raises(NotDifferentiableError, match="backward: the output layer uses 'sign'"):
        sign_out.backward(X, T)
    with pytest.raises(NotDifferentiableError, match="online_step"):
        sign_out.online_step(X[0], T[0], lr=0.1)
    assert isinstance(NotDifferentiableError("x"), ValueError)


def test_repr():
    net = ClassicMLP([2, 3, 3, 2], activations=["tanh", LeakyReLU(0.1)], output="softmax", loss="cross_entropy")
    assert repr(net) == ("ClassicMLP(sizes=[2, 3, 3, 2], activations=['tanh', 'LeakyReLU(negative_slope=0.1)'], "
                         "output='softmax', loss='cross_entropy')")


def test_docstring_examples_run():
    import doctest

    import neurona.classic
    import neurona.classic.mlp
    for module in (neurona.classic, neurona.classic.mlp):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0
