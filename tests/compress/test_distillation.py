"""Knowledge distillation: the loss against an independent NumPy reference, its gradient, and the effect."""
import warnings

import numpy as np
import pytest

import neurona
from neurona import compress, models, nn, optim
from neurona.data import fashion_mnist_small
from neurona.train import evaluate, fit


def _np_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _np_loss(s, t, y, T, alpha):
    """α T² (1/N) Σ_n KL(p_n ‖ q_n) + (1 − α) (1/N) Σ_n −log softmax(s_n)[y_n], in float64."""
    p, q = _np_softmax(t / T), _np_softmax(s / T)
    kl = np.sum(p * (np.log(p) - np.log(q)), axis=1).mean()
    ce = -np.log(_np_softmax(s)[np.arange(len(y)), y]).mean()
    return alpha * T * T * kl + (1 - alpha) * ce


@pytest.mark.parametrize("T,alpha", [(1.0, 0.5), (4.0, 0.9), (2.0, 0.0), (3.0, 1.0)])
def test_loss_matches_numpy_reference(rng, T, alpha):
    s = rng.normal(0, 2, (6, 5))
    t = rng.normal(0, 2, (6, 5))
    y = rng.integers(0, 5, 6)
    out = compress.distillation_loss(neurona.tensor(s, dtype=np.float64), t, neurona.tensor(y), T=T, alpha=alpha)
    assert out.item() == pytest.approx(_np_loss(s, t, y, T, alpha), rel=1e-10)
    out32 = compress.distillation_loss(neurona.tensor(s, requires_grad=True), t.astype(np.float32), y, T, alpha)
    assert out32.dtype == np.float32


@pytest.mark.parametrize("shape", [(4, 3), (1, 7), (8, 10)])
def test_gradcheck(rng, shape):
    t = rng.normal(0, 2, shape)
    y = neurona.tensor(rng.integers(0, shape[1], shape[0]))
    s = neurona.tensor(rng.normal(0, 2, shape), requires_grad=True, dtype=np.float64)
    neurona.gradcheck(lambda x: compress.distillation_loss(x, t, y, T=3.0, alpha=0.7), s)


def test_soft_gradient_is_q_minus_p_over_T_times_T_squared(rng):
    # Hinton et al.: ∂/∂s_i of T²·KL = T (q_i − p_i) per sample (before averaging over the batch)
    s = rng.normal(0, 1, (3, 4))
    t = rng.normal(0, 1, (3, 4))
    T = 5.0
    x = neurona.tensor(s, requires_grad=True, dtype=np.float64)
    compress.distillation_loss(x, t, None, T=T, alpha=1.0).backward()
    expected = T * (_np_softmax(s / T) - _np_softmax(t / T)) / 3
    np.testing.assert_allclose(x.grad.array, expected, rtol=1e-10, atol=1e-12)


def test_soft_targets_and_errors():
    p = compress.soft_targets(np.array([[0.0, np.log(3.0)]]), T=1.0)
    np.testing.assert_allclose(p, [[0.25, 0.75]])
    assert np.allclose(compress.soft_targets(np.array([[1.0, 5.0]]), T=1e6), 0.5)
    s = neurona.randn(2, 3)
    with pytest.raises(ValueError, match="temperature"):
        compress.distillation_loss(s, np.zeros((2, 3)), [0, 1], T=0)
    with pytest.raises(ValueError, match="alpha"):
        compress.DistillationLoss(alpha=1.5)
    with pytest.raises(ValueError, match="target="):
        compress.distillation_loss(s, np.zeros((2, 3)), None, alpha=0.5)
    with pytest.raises(ValueError, match="do not match"):
        compress.distillation_loss(s, np.zeros((2, 4)), [0, 1])
    loss = compress.DistillationLoss(T=2.0, alpha=0.5)
    assert loss(s, [0, 1], np.zeros((2, 3))).shape == ()


def test_teacher_is_not_trained_and_not_in_the_student_state():
    neurona.manual_seed(0)
    teacher, student = models.MLP(4, [8], 3), models.MLP(4, [4], 3)
    before = {k: v.numpy().copy() for k, v in teacher.state_dict().items()}
    pair = compress.TeacherStudent(student, teacher)
    assert list(pair.state_dict()) == ["student." + k for k in student.state_dict()]
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    h = compress.distill(student, teacher, (X, y), epochs=2, batch_size=16, seed=0, val=(X, y))
    assert len(h["loss"]) == 2 and "val_accuracy" in h.history
    for k, v in teacher.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert not student.training


def test_distilled_student_beats_the_same_student_trained_alone():
    """Fashion-MNIST (embedded subset): a stronger teacher, trained on the 3,000 training images, passes on
    its knowledge through its softened outputs; the same small student (784-16-10), trained with the same
    600 labelled images, the same epochs, seed and optimizer, scores higher distilled than alone
    (Hinton et al. 2015: soft targets carry what hard labels cannot)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xtr, ytr = fashion_mnist_small("train", as_float=True, layout="flat", warn=False)
        Xte, yte = fashion_mnist_small("test", as_float=True, layout="flat", warn=False)
    mu, sd = float(Xtr.mean()), float(Xtr.std())
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    neurona.manual_seed(0)
    teacher = models.MLP(784, [128], 10, dropout=0.2)
    fit(teacher, nn.CrossEntropyLoss(), optim.Adam(teacher.parameters(), 1e-3), (Xtr, ytr), epochs=6,
        batch_size=64, seed=0, verbose=0)
    seed = 0
    idx = np.random.default_rng(seed).permutation(len(Xtr))[:600]
    Xs, ys = Xtr[idx], ytr[idx]

    neurona.manual_seed(seed)
    alone = models.MLP(784, [16], 10)
    fit(alone, nn.CrossEntropyLoss(), optim.Adam(alone.parameters(), 1e-3), (Xs, ys), epochs=8, batch_size=32,
        seed=seed, verbose=0)
    neurona.manual_seed(seed)
    student = models.MLP(784, [16], 10)
    compress.distill(student, teacher, (Xs, ys), epochs=8, T=2.0, alpha=0.7,
                     optimizer=optim.Adam(student.parameters(), 1e-3), batch_size=32, seed=seed)
    acc_teacher = evaluate(teacher, None, (Xte, yte))["accuracy"]
    acc_alone = evaluate(alone, None, (Xte, yte))["accuracy"]
    acc_student = evaluate(student, None, (Xte, yte))["accuracy"]
    assert acc_teacher > acc_student > acc_alone + 0.01, (acc_teacher, acc_student, acc_alone)


def test_cached_teacher_logits_give_the_same_training():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(96, 4)).astype(np.float32), rng.integers(0, 3, 96)
    neurona.manual_seed(1)
    teacher = models.MLP(4, [8], 3, dropout=0.5)  # dropout: the teacher must run in eval mode either way
    students = []
    for cache in (True, False):
        neurona.manual_seed(2)
        s = models.MLP(4, [4], 3)
        compress.distill(s, teacher, (X, y), epochs=2, batch_size=16, seed=0, cache_teacher=cache)
        students.append(s)
    for a, b in zip(students[0].parameters(), students[1].parameters()):
        np.testing.assert_allclose(a.array, b.array, rtol=1e-5, atol=1e-6)
    assert teacher.training  # its mode is left as it was
    with pytest.raises(ValueError, match="pair of arrays"):
        compress.distill(students[0], teacher, [(neurona.tensor(X), neurona.tensor(y))], cache_teacher=True)


def test_precomputed_teacher_logits():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    neurona.manual_seed(1)
    teacher = models.MLP(4, [8], 3)
    logits = neurona.train.predict(teacher, X)
    out = []
    for kw in ({}, {"teacher_logits": logits}):
        neurona.manual_seed(2)
        s = models.MLP(4, [4], 3)
        compress.distill(s, teacher, (X, y), epochs=1, batch_size=16, seed=0, **kw)
        out.append(s.layers[0].weight.array.copy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6)
    with pytest.raises(ValueError, match="one row per training sample"):
        compress.distill(s, teacher, (X, y), teacher_logits=logits[:10])
