"""One training run of the playground: a network, its optimizer and loss, trained step by step.

A :class:`Run` trains exactly as the hand-written loop of ``neurona.train``
(and the Python file the page downloads) does::

    neurona.manual_seed(wseed)
    loader = DataLoader((X_train, y_train), batch_size=batch, shuffle=True, seed=wseed)
    for each batch:  zero_grad → loss (+ λ penalty) → backward → clip → step

but one mini-batch at a time, so the server can pause, show a frame and go on.
After every epoch (a pass over the training points) it evaluates the train and
test losses, which feed the loss curve and early stopping.
"""
from __future__ import annotations

import base64
import math

import numpy as np

from .. import nn, optim
from ..creation import manual_seed
from ..data import DataLoader
from ..engine import Tensor, no_grad
from ..functional.activation import softmax
from ..train import weight_penalty
from ..train.callbacks import EarlyStopping
from .config import OPTIMIZERS, Config, ConfigError
from .datasets import DOMAIN, PointSet
from .model import PlaygroundNet

__all__ = ["Run", "make_optimizer", "make_loss", "squared_error", "model_kwargs", "GRID", "grid_points",
           "HIST_BINS"]

GRID = 64          # the decision-region image is GRID × GRID cells over [−6, 6]²
THUMB = 32         # each neuron's own picture, GRID/2 cells a side
HIST_BINS = {"w": (24, -2.0, 2.0), "g": (20, -10.0, 0.0)}   # weights; log10 |∂q/∂W|
ACT_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "relu": (0.0, 4.0), "linear": (-4.0, 4.0)}
ACT_BINS = 24


def squared_error(output: Tensor, target: Tensor, classes: int = 0) -> Tensor:
    """The notes' squared error q = ½ Σ_i (t_i − s_i)², averaged over the batch.

    Classification (``classes`` ≥ 2): s = softmax(output), t one-hot; regression:
    s = output, t the target values.
    """
    if classes:
        s = softmax(output, dim=1)
        t = Tensor(np.eye(classes, dtype=s.array.dtype)[target.array])
    else:
        s, t = output, target
    d = s - t
    return (d * d).sum(dim=1).mean() * 0.5


def make_loss(config: Config, task: str, classes: int):
    """loss(output, target): cross-entropy on the logits, or the squared error."""
    if task == "classification" and config.loss == "cross_entropy":
        return nn.CrossEntropyLoss()
    k = classes if task == "classification" else 0
    return lambda out, target: squared_error(out, target, k)


def make_optimizer(config: Config, params) -> optim.Optimizer:
    """The optimizer ``config.optimizer`` of neurona.optim with the config's hyperparameters."""
    name = config.optimizer
    cls = getattr(optim, OPTIMIZERS[name][0])
    kw = {"lr": config.lr}
    if name in ("momentum", "nesterov"):
        kw["momentum"] = config.momentum
        kw["nesterov"] = name == "nesterov"
    elif name == "adagrad":
        kw["eps"] = config.eps
    elif name == "rmsprop":
        kw.update(alpha=config.alpha, eps=config.eps)
    elif name == "adadelta":
        kw.update(rho=config.rho, eps=config.eps)
    elif name in ("adam", "adamax", "nadam"):
        kw.update(betas=(config.beta1, config.beta2), eps=config.eps)
    try:
        return cls(list(params), **kw)
    except ValueError as e:
        raise ConfigError("optimizer", f"optimizer {name}: {e}") from None


def optimizer_kwargs(config: Config) -> dict:
    """The hyperparameters ``make_optimizer`` passes, for the page and the exported code."""
    opt = make_optimizer(config, [nn.Parameter(np.zeros(1, np.float32))])
    keep = {"lr", "momentum", "nesterov", "alpha", "rho", "eps", "betas"}
    return {k: v for k, v in opt.defaults.items() if k in keep}


def model_kwargs(config: Config, data: PointSet) -> dict:
    """The PlaygroundNet arguments for this config and these points."""
    return {"features": list(config.features), "hidden": list(config.hidden),
            "out_features": data.classes if data.task == "classification" else 1,
            "activation": config.activation, "batch_norm": config.batch_norm, "dropout": config.dropout,
            "residual": config.residual, "init": config.init, "seed": config.wseed,
            "input_shift": [float(v) for v in data.shift], "input_scale": [float(v) for v in data.scale]}


def grid_points(n: int = GRID) -> np.ndarray:
    """Cell centres of an n × n grid over [−6, 6]², row-major from the top-left (y = +6) corner."""
    c = -DOMAIN + (np.arange(n) + 0.5) * (2 * DOMAIN / n)
    gx, gy = np.meshgrid(c, c[::-1])
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode("ascii")


def _hist(values: np.ndarray, bins: int, lo: float, hi: float) -> list[int]:
    """Counts over [lo, hi] (values outside go to the end bins), scaled so the largest bin is 255."""
    if values.size == 0:
        return [0] * bins
    idx = np.clip(((values - lo) / (hi - lo) * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    return [int(v) for v in np.round(counts / counts.max() * 255)]


class Run:
    """One network trained on a PointSet with a Config; ``name`` is "A" (or "B" when comparing)."""

    def __init__(self, config: Config, data: PointSet, name: str = "A"):
        self.name = name
        self.config = config
        self.data = data
        self.generation = 0
        self.reset()

    # --- setting up ---
    def reset(self) -> None:
        """A new network with the config's initial weights; epoch and history back to 0."""
        cfg, data = self.config, self.data
        manual_seed(cfg.wseed)  # the exported script seeds the same way (dropout masks use this generator)
        self.model = PlaygroundNet(**model_kwargs(cfg, data))
        self.optimizer = make_optimizer(cfg, self.model.parameters())
        self.loss_fn = make_loss(cfg, data.task, data.classes)
        self.generation += 1
        self.epoch = 0
        self.steps = 0
        self.history: list[tuple[int, float, float]] = []
        self.metrics: dict = {}
        self.stopped: str | None = None
        self.altered = False  # settings or points changed after training started
        self.last_grads: list | None = None
        # the batches' order: one generator for the whole run, seeded as the exported script's DataLoader
        self._shuffle = np.random.default_rng(cfg.wseed)
        self._make_loader()
        self._setup_early_stopping()
        self.evaluate(record=True)

    def _make_loader(self) -> None:
        cfg, data = self.config, self.data
        self.X_train = data.X[data.train]
        self.y_train = data.targets(data.train)
        self.X_test = data.X[~data.train]
        self.y_test = data.targets(~data.train)
        n = len(self.X_train)
        if n == 0:
            self.loader = None
            self._batches = None
            return
        b = min(cfg.batch, n)
        # batch norm cannot normalize a batch of one sample: such a last batch is left out
        drop_last = cfg.batch_norm and n % b == 1 and n > 1
        # the input features are fixed, so they are computed once (as the exported script does)
        with no_grad():
            F_train = self.model.inputs(Tensor(self.X_train)).array
        self.loader = DataLoader((F_train, self.y_train), batch_size=b, shuffle=True, drop_last=drop_last,
                                 generator=self._shuffle)
        self._batches = None
        self._batch_index = 0

    def _setup_early_stopping(self) -> None:
        self.early = None
        self.stop_training = False
        self.stop_reason = None
        if self.config.early_stopping:
            self.early = EarlyStopping(monitor="val_loss", patience=self.config.patience, restore_best_weights=True,
                                       verbose=0)
            self.early.set_trainer(self)
            self.early.on_train_begin({})
            if self.history:
                self.early.on_epoch_end(self.epoch, {"val_loss": self.history[-1][2]})

    # EarlyStopping speaks to a trainer: these are the parts it uses
    verbose = 0

    def log(self, message: str, error: bool = False) -> None:
        pass

    # --- changes while running ---
    def apply_live(self, config: Config) -> None:
        """Settings that change without a new network: learning rate and hyperparameters, batch, penalty..."""
        old, self.config = self.config, config
        self.altered = self.altered or self.steps > 0
        group = self.optimizer.param_groups[0]
        fresh = make_optimizer(config, [nn.Parameter(np.zeros(1, np.float32))]).defaults
        for k, v in fresh.items():
            if k in group:
                group[k] = v
        if config.batch != old.batch:
            self._make_loader()
        if (config.early_stopping, config.patience) != (old.early_stopping, old.patience):
            self._setup_early_stopping()
            self.stopped = None

    def set_data(self, data: PointSet) -> None:
        """Go on training the same network on changed points (points added by hand)."""
        self.data = data
        self.altered = self.altered or self.steps > 0
        self._make_loader()
        self.evaluate(record=False)

    # --- training ---
    def step(self) -> bool:
        """One mini-batch update; True when it ended an epoch."""
        if self.loader is None:
            raise ValueError("there are no training points: add points, upload a CSV file or choose a data set")
        if self._batches is None:
            self._batches = iter(self.loader)
            self._batch_index = 0
        xb, yb = next(self._batches)
        model, opt, cfg = self.model, self.optimizer, self.config
        model.train()
        opt.zero_grad()
        loss = self.loss_fn(model.from_features(xb), yb)
        if cfg.regularization != "none" and cfg.reg_rate > 0:
            penalty = weight_penalty(**{cfg.regularization: cfg.reg_rate})
            loss = loss + penalty(model)
        loss.backward()
        if cfg.clip == "norm":
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_value)
        elif cfg.clip == "value":
            nn.utils.clip_grad_value_(model.parameters(), cfg.clip_value)
        opt.step()
        self.steps += 1
        self._batch_index += 1
        self.last_grads = [None if lin.weight.grad is None else lin.weight.grad.array for lin in model.linears()]
        if self._batch_index >= len(self.loader):
            self._batches = None
            self._end_epoch()
            return True
        return False

    def _end_epoch(self) -> None:
        self.epoch += 1
        self.evaluate(record=True)
        if self.early is not None:
            test_loss = self.metrics["test_loss"]
            logs = {"val_loss": test_loss if test_loss is not None else self.metrics["train_loss"]}
            self.early.on_epoch_end(self.epoch - 1, logs)
            if self.stop_training:
                self.early.on_train_end({})
                self.stopped = self.stop_reason
                self.evaluate(record=False)

    def train_epoch(self) -> None:
        """Steps until the current epoch ends."""
        while not self.step():
            pass

    @property
    def progress(self) -> float:
        """Epochs done, with the fraction of the current one."""
        if self.loader is None or not len(self.loader):
            return float(self.epoch)
        return self.epoch + self._batch_index / len(self.loader) if self._batches is not None else float(self.epoch)

    # --- measuring ---
    def _outputs(self, X: np.ndarray, trace: list | None = None) -> Tensor:
        model = self.model
        was = model.training
        model.eval()
        try:
            with no_grad():
                return model(Tensor(X), trace)
        finally:
            model.train(was)

    def _loss_of(self, X, y) -> tuple[float | None, float | None]:
        if len(X) == 0:
            return None, None
        out = self._outputs(X)
        with no_grad():
            loss = float(self.loss_fn(out, Tensor(y)).item())
        acc = None
        if self.data.task == "classification":
            acc = float((out.array.argmax(axis=1) == y).mean())
        return (loss if math.isfinite(loss) else float("nan")), acc

    def evaluate(self, record: bool = True) -> dict:
        """Train and test loss (and accuracy) in eval mode; ``record`` adds a point to the loss curve."""
        tr, tr_acc = self._loss_of(self.X_train, self.y_train)
        te, te_acc = self._loss_of(self.X_test, self.y_test)
        self.metrics = {"train_loss": tr, "test_loss": te, "train_accuracy": tr_acc, "test_accuracy": te_acc}
        if record:
            if self.history and self.history[-1][0] == self.epoch:
                self.history[-1] = (self.epoch, tr, te)
            else:
                self.history.append((self.epoch, tr, te))
        return self.metrics

    def curve(self, max_points: int = 400) -> list:
        """The loss curve [[epoch, train, test], ...], thinned to at most ``max_points``."""
        h = self.history
        if len(h) > max_points:
            idx = np.unique(np.linspace(0, len(h) - 1, max_points).round().astype(int))
            h = [h[i] for i in idx]
        return [[e, _short(a), _short(b)] for e, a, b in h]

    def boundary(self, grid: np.ndarray, trace: list | None = None) -> dict:
        """The output over the grid: class and confidence per cell, or the value (regression)."""
        out = self._outputs(self.data.to_raw(grid), trace).array.astype(np.float64)
        n = int(math.isqrt(len(grid)))
        if self.data.task == "classification":
            e = np.exp(out - out.max(axis=1, keepdims=True))   # softmax, for the winning class's probability
            top = 1.0 / e.sum(axis=1)
            c = self.data.classes
            conf = (top - 1.0 / c) / (1.0 - 1.0 / c)
            return {"kind": "classes", "n": n, "cls": _b64(out.argmax(axis=1)),
                    "conf": _b64(np.clip(conf * 255, 0, 255))}
        v = np.clip(out[:, 0], -1.0, 1.0)
        return {"kind": "value", "n": n, "value": _b64(np.round((v + 1) * 127.5))}

    def neuron_images(self, trace: list) -> list:
        """Each hidden neuron's output over the grid, THUMB × THUMB values scaled to [−1, 1], as bytes."""
        if len(trace) < 2:
            return []
        widths = [s.shape[1] for _, s in trace[:-1]]
        z = np.concatenate([s.array for _, s in trace[:-1]], axis=1)
        n = int(math.isqrt(len(z)))
        k = n // THUMB
        z = z.reshape(THUMB, k, THUMB, k, -1).mean(axis=(1, 3)).reshape(THUMB * THUMB, -1)
        top = np.abs(z).max(axis=0)
        scale = np.where(top > 1.0, top, 1.0)
        img = np.round((np.clip(z / scale, -1, 1) + 1) * 127.5).astype(np.uint8).T
        layers, i = [], 0
        for w in widths:
            layers.append([{"scale": round(float(scale[j]), 4), "img": _b64(img[j])} for j in range(i, i + w)])
            i += w
        return layers

    def weights(self) -> list:
        """[[W^(l) rows...], [w0^(l)]] for every layer, rounded for the page's links."""
        out = []
        for lin in self.model.linears():
            out.append({"w": np.round(lin.weight.array.astype(np.float64), 4).tolist(),
                        "b": np.round(lin.bias.array.astype(np.float64), 4).tolist()})
        return out

    def histograms(self) -> dict:
        """Per layer: histograms of the weights, of the outputs s^(l) on the training points and of log10|∂q/∂W|."""
        trace: list = []
        if len(self.X_train):
            self._outputs(self.X_train, trace)
        lo, hi = ACT_RANGE[self.config.activation]
        layers = []
        for l, lin in enumerate(self.model.linears()):
            w = lin.weight.array
            entry = {"w": _hist(w.ravel(), *HIST_BINS["w"]), "w_mean": _num(float(np.abs(w).mean()) if w.size else 0)}
            g = None if self.last_grads is None else self.last_grads[l]
            if g is not None:
                mag = np.log10(np.maximum(np.abs(g.ravel()).astype(np.float64), 1e-30))
                entry["g"] = _hist(mag, *HIST_BINS["g"])
                entry["g_mean"] = _num(float(np.abs(g).mean()))
            if l < len(trace) - 1:
                s = trace[l][1].array
                entry["s"] = _hist(s.ravel(), ACT_BINS, lo, hi)
                if self.config.activation == "relu":
                    entry["dead"] = int((np.abs(s).max(axis=0) == 0).sum()) if len(s) else 0
            layers.append(entry)
        return {"gen": self.generation, "steps": self.steps, "epoch": self.epoch, "layers": layers,
                "s_range": [lo, hi], "w_range": list(HIST_BINS["w"][1:]), "g_range": list(HIST_BINS["g"][1:])}

    def summary(self) -> dict:
        m = self.metrics
        return {"name": self.name, "epoch": self.epoch, "steps": self.steps, "gen": self.generation,
                "train_loss": _num(m.get("train_loss")), "test_loss": _num(m.get("test_loss")),
                "train_accuracy": _num(m.get("train_accuracy")), "test_accuracy": _num(m.get("test_accuracy")),
                "stopped": self.stopped, "config": self.config.to_dict()}


def _num(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _short(v):
    """A loss for the curve: 5 significant digits are plenty for a line 420 pixels wide."""
    v = _num(v)
    return None if v is None else float(f"{v:.5g}")
