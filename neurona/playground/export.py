"""Take the playground's network away: a neurona model file, and the Python code that trains it again.

``model_file(run)`` is a model file of :mod:`neurona.io` (weights and config,
no pickle): ``neurona.io.load`` rebuilds the network and ``neurona predict
MODEL --input points.csv`` (columns x1, x2) classifies points.

``python_code(run)`` is a standalone script with the points, the network as
``nn.Sequential``, the initialization, the optimizer and the loss: after N
epochs it holds the weights the page showed at epoch N.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from .. import io
from .model import FEATURES
from .training import Run, optimizer_kwargs

__all__ = ["model_file", "python_code", "model_metadata"]


def model_metadata(run: Run) -> dict:
    """What a model file says about the network: data, task, classes, inputs, losses."""
    data, cfg = run.data, run.config
    meta = {"dataset": f"playground:{data.name}", "task": data.task, "feature_names": ["x1", "x2"],
            "target": "label", "input_shape": [2], "epochs": run.epoch, "steps": run.steps,
            "train_loss": run.metrics.get("train_loss"), "test_loss": run.metrics.get("test_loss"),
            "playground": cfg.to_dict()}
    if data.task == "classification":
        meta["class_names"] = list(data.class_names)
        meta["test_accuracy"] = run.metrics.get("test_accuracy")
    elif (data.target_mean, data.target_std) != (0.0, 1.0):
        # the network predicts (y − mean)/std; neurona predict turns it back into the file's units
        meta["target_scaler"] = {"mean": np.array([[data.target_mean]]), "var": np.array([[data.target_std ** 2]]),
                                 "eps": np.asarray(0.0), "ddof": np.asarray(0)}
    return {k: v for k, v in meta.items() if v is not None}


def model_file(run: Run) -> bytes:
    """The network as the bytes of a neurona model file (``.npz``)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.npz")
        io.save(run.model, path, **model_metadata(run))
        with open(path, "rb") as f:
            return f.read()


def _f32(v) -> str:
    """The shortest decimal that reads back as the same float32."""
    v = np.float32(v)
    s = np.format_float_positional(v, unique=True, trim="-")
    return s if np.float32(float(s)) == v else repr(float(v))


def _rows(X: np.ndarray, y: np.ndarray, integer: bool) -> str:
    if len(X) == 0:
        return "np.zeros((0, 3), dtype=np.float32)"
    lines = [f"    [{_f32(a)}, {_f32(b)}, {int(t) if integer else _f32(t)}]," for (a, b), t in zip(X, y)]
    return "np.array([\n" + "\n".join(lines) + "\n], dtype=np.float32)"


_FEATURE_CODE = {"x1": "x1", "x2": "x2", "x1sq": "x1 * x1", "x2sq": "x2 * x2", "x1x2": "x1 * x2",
                 "sinx1": "np.sin(x1)", "sinx2": "np.sin(x2)"}
_ACT = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()", "linear": "nn.Identity()"}
_OPT = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop",
        "adadelta": "Adadelta", "adam": "Adam", "adamax": "Adamax", "nadam": "NAdam"}
_INIT = {
    "glorot": ("Glorot's initialization (the notes: Var(W) = 2/(n_in + n_out)), biases 0",
               ["nn.init.xavier_normal_(layer.weight, generator=gen)", "nn.init.zeros_(layer.bias)"]),
    "he": ("He's initialization for ReLU (Var(W) = 2/n_in), biases 0",
           ["nn.init.kaiming_normal_(layer.weight, nonlinearity=\"relu\", generator=gen)",
            "nn.init.zeros_(layer.bias)"]),
    "zeros": ("every weight and bias 0: the neurons of a layer stay identical and the network cannot learn",
              ["nn.init.zeros_(layer.weight)", "nn.init.zeros_(layer.bias)"]),
    "default": ("PyTorch's default for Linear: U(-1/sqrt(n_in), 1/sqrt(n_in)) for weights and biases",
                ["nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=gen)",
                 "bound = 1 / math.sqrt(layer.in_features)",
                 "nn.init.uniform_(layer.bias, -bound, bound, generator=gen)"]),
}


def _fmt(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    if isinstance(v, float):
        return repr(v)
    return repr(v)


def _model_code(run: Run) -> list[str]:
    cfg, m = run.config, run.model
    act = _ACT[cfg.activation]
    lines = ["    model = nn.Sequential("]
    width = len(cfg.features)
    for layer, h in zip(m.layers, cfg.hidden):
        parts = [f"nn.Linear({width}, {h})"]
        if cfg.batch_norm:
            parts.append(f"nn.BatchNorm1d({h})")
        parts.append(act)
        if cfg.dropout > 0:
            parts.append(f"nn.Dropout({cfg.dropout!r})")
        if layer.residual:
            lines.append(f"        nn.Residual(nn.Sequential({', '.join(parts)})),   # f(s) + s")
        else:
            lines.append(f"        {', '.join(parts)},")
        width = h
    lines.append(f"        nn.Linear({width}, {m.out_features}),")
    lines.append("    )")
    return lines


def python_code(run: Run, filename: str = "playground_train.py") -> str:
    """A script that builds, initializes and trains the run's network with neurona, on the same points."""
    cfg, data = run.config, run.data
    classification = data.task == "classification"
    tr, te = data.train, ~data.train
    n_train = int(tr.sum())
    batch = min(cfg.batch, n_train) if n_train else cfg.batch
    drop_last = cfg.batch_norm and n_train > 1 and n_train % batch == 1
    epochs = run.epoch if run.epoch > 0 else 100
    sizes = "-".join(str(s) for s in [len(cfg.features), *cfg.hidden, run.model.out_features])
    feats = ", ".join(FEATURES[f] for f in cfg.features)
    opt_kw = optimizer_kwargs(cfg)
    opt_args = ", ".join(f"{k}={_fmt(v)}" for k, v in opt_kw.items() if not (k == "nesterov" and not v))
    init_note, init_lines = _INIT[cfg.init]
    scaled = not (np.all(data.shift == 0) and np.all(data.scale == 1))
    standardized = not classification and (data.target_mean, data.target_std) != (0.0, 1.0)

    out: list[str] = []
    w = out.append
    w(f'"""Train the network of the neurona playground again: {sizes} {cfg.activation}, {data.name} data.')
    w("")
    w(f"    python {filename} [--epochs N] [--save model.npz]")
    w("")
    w(f"Inputs {feats}; {cfg.optimizer} with learning rate {cfg.lr:g}, batch {batch}, "
      f"{'cross-entropy' if cfg.loss == 'cross_entropy' and classification else 'squared error'} loss.")
    w("It starts from the page's initial weights and visits the points in the page's order, so after N")
    if cfg.dropout > 0:
        w("epochs it holds the weights the page showed at epoch N, up to the dropout masks: they come from")
        w("neurona's global generator, which the page's process shares with other work.")
    else:
        w("epochs it holds the weights the page showed at epoch N.")
    if run.altered:
        w("The page changed settings or points during its run; this script uses the final ones from the start.")
    w(f"The page had trained {run.epoch} epoch{'s' if run.epoch != 1 else ''}; --epochs changes it.")
    w('"""')
    w("import argparse")
    if cfg.early_stopping or cfg.init == "default":
        w("import math")
    w("")
    w("import numpy as np")
    w("")
    w("import neurona")
    w("from neurona import nn, optim")
    w("from neurona.data import DataLoader")
    if cfg.regularization != "none" and cfg.reg_rate > 0:
        w("from neurona.train import weight_penalty")
    w("")
    w(f"SEED = {cfg.wseed}            # the initial weights and the order of the batches")
    w(f"EPOCHS = {epochs}")
    w(f"BATCH = {batch}")
    if classification:
        w(f"CLASSES = {data.classes}           # class names: {', '.join(data.class_names)}")
    w("")
    w(f"# the points: x1, x2 and the {'class' if classification else 'value'}; "
      f"{n_train} for training, {int(te.sum())} for testing")
    w(f"TRAIN = {_rows(data.X[tr], data.y[tr], classification)}")
    w(f"TEST = {_rows(data.X[te], data.y[te], classification)}")
    if scaled:
        w("# your data's units -> the playground's square [-6, 6]^2: (x - SHIFT) * SCALE")
        w(f"SHIFT = np.array([{_f32(data.shift[0])}, {_f32(data.shift[1])}], dtype=np.float32)")
        w(f"SCALE = np.array([{_f32(data.scale[0])}, {_f32(data.scale[1])}], dtype=np.float32)")
    if standardized:
        w(f"MEAN, STD = {data.target_mean!r}, {data.target_std!r}   # the network learns (value - MEAN) / STD")
    w("")
    w("")
    w("def features(points):")
    w(f'    """The input layer s^(0) of each point: {feats}."""')
    if scaled:
        w("    points = (points - SHIFT) * SCALE")
    w("    x1, x2 = points[:, 0:1], points[:, 1:2]")
    w(f"    return np.concatenate([{', '.join(_FEATURE_CODE[f] for f in cfg.features)}], axis=1)")
    w("")
    w("")
    w("def targets(rows):")
    w(f'    """What the network learns for each point: {"its class" if classification else "its value"}."""')
    if classification:
        w("    return rows[:, 2].astype(np.int64)")
    elif standardized:
        w("    return ((rows[:, 2] - np.float32(MEAN)) / np.float32(STD)).astype(np.float32).reshape(-1, 1)")
    else:
        w("    return rows[:, 2].reshape(-1, 1)")
    w("")
    w("")
    w("def build_model():")
    w(f'    """{sizes}, {cfg.activation}' + (", batch norm" if cfg.batch_norm else "") +
      (f", dropout {cfg.dropout:g}" if cfg.dropout else "") + (", residual connections" if any(
          l.residual for l in run.model.layers) else "") + '."""')
    out.extend(_model_code(run))
    w(f"    # {init_note}")
    w("    gen = np.random.default_rng(SEED)")
    w("    for layer in model.modules():")
    w("        if isinstance(layer, nn.Linear):")
    for line in init_lines:
        w(f"            {line}")
    w("    return model")
    w("")
    w("")
    if classification and cfg.loss == "cross_entropy":
        w("loss_fn = nn.CrossEntropyLoss()   # softmax + cross-entropy on the logits, averaged over the batch")
    elif classification:
        w("def loss_fn(output, target):")
        w('    """The notes\' squared error q = 1/2 sum_i (t_i - s_i)^2 on the softmax outputs, averaged over the '
          'batch."""')
        w("    s = neurona.softmax(output, dim=1)")
        w("    t = neurona.tensor(np.eye(CLASSES, dtype=np.float32)[target.array])")
        w("    d = s - t")
        w("    return (d * d).sum(dim=1).mean() * 0.5")
    else:
        w("def loss_fn(output, target):")
        w('    """The squared error q = 1/2 (t - y)^2, averaged over the batch."""')
        w("    d = output - target")
        w("    return (d * d).sum(dim=1).mean() * 0.5")
    w("")
    w("")
    w("def evaluate(model, X, y):")
    w('    """Loss (and accuracy) in evaluation mode: dropout off, batch norm on its running statistics."""')
    w("    if len(X) == 0:")
    w("        return float('nan'), float('nan')")
    w("    model.eval()")
    w("    with neurona.no_grad():")
    w("        out = model(neurona.tensor(X))")
    w("        loss = loss_fn(out, neurona.tensor(y)).item()")
    w("    model.train()")
    if classification:
        w("    return loss, float((out.array.argmax(axis=1) == y).mean())")
    else:
        w("    return loss, float('nan')")
    w("")
    w("")
    w("def train(epochs=EPOCHS):")
    w("    neurona.manual_seed(SEED)")
    w("    model = build_model()")
    w(f"    optimizer = optim.{_OPT[cfg.optimizer]}(model.parameters(), {opt_args})")
    if cfg.regularization != "none" and cfg.reg_rate > 0:
        what = "lambda * sum |w|" if cfg.regularization == "l1" else "lambda/2 * sum w^2"
        w(f"    penalty = weight_penalty({cfg.regularization}={cfg.reg_rate!r})   # {what} over the weights")
    w("    X_train, y_train = features(TRAIN[:, :2]), targets(TRAIN)")
    w("    X_test, y_test = features(TEST[:, :2]), targets(TEST)")
    w("    loader = DataLoader((X_train, y_train), batch_size=BATCH, shuffle=True, seed=SEED" +
      (", drop_last=True)   # batch norm cannot normalize a last batch of one" if drop_last else ")"))
    if cfg.early_stopping:
        w(f"    patience, best, best_state, wait = {cfg.patience}, math.inf, None, 0   # early stopping on the "
          f"test loss")
    w("    for epoch in range(1, epochs + 1):")
    w("        model.train()")
    w("        for xb, yb in loader:")
    w("            optimizer.zero_grad()")
    w("            loss = loss_fn(model(xb), yb)")
    if cfg.regularization != "none" and cfg.reg_rate > 0:
        w("            loss = loss + penalty(model)")
    w("            loss.backward()")
    if cfg.clip == "norm":
        w(f"            nn.utils.clip_grad_norm_(model.parameters(), {cfg.clip_value!r})   # scale the gradient")
    elif cfg.clip == "value":
        w(f"            nn.utils.clip_grad_value_(model.parameters(), {cfg.clip_value!r})   # clip each element")
    w("            optimizer.step()")
    w("        train_loss, train_acc = evaluate(model, X_train, y_train)")
    w("        test_loss, test_acc = evaluate(model, X_test, y_test)")
    if classification:
        w('        print(f"epoch {epoch:4d}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  '
          'test accuracy {test_acc:.4f}")')
    else:
        w('        print(f"epoch {epoch:4d}  train loss {train_loss:.4f}  test loss {test_loss:.4f}")')
    if cfg.early_stopping:
        w("        if test_loss < best:")
        w("            best, best_state, wait = test_loss, {k: v.clone() for k, v in model.state_dict().items()}, 0")
        w("        else:")
        w("            wait += 1")
        w("            if wait >= patience:")
        w('                print(f"early stopping: the test loss did not improve for {patience} epochs; '
          'back to the best weights")')
        w("                model.load_state_dict(best_state)")
        w("                break")
    w("    return model")
    w("")
    w("")
    w('if __name__ == "__main__":')
    w("    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])")
    w('    parser.add_argument("--epochs", type=int, default=EPOCHS)')
    w('    parser.add_argument("--save", help="write the trained weights to this neurona model file")')
    w("    args = parser.parse_args()")
    w("    model = train(args.epochs)")
    w("    if args.save:")
    w("        neurona.io.save(model, args.save)")
    w('        print(f"weights written to {args.save}; load them with neurona.io.load(path, model=build_model())")')
    return "\n".join(out) + "\n"
