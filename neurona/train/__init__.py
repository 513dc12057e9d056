"""Training: the ``fit`` loop, callbacks, metrics and the learning-rate range test (``neurona.train``).

>>> from neurona.train import fit, EarlyStopping
>>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
...               (X_train, y_train), val=(X_val, y_val), epochs=20, batch_size=128,
...               callbacks=[EarlyStopping(patience=3)])

See ``neurona.train.loop`` for the same training written as a plain loop.
"""
from . import metrics
from .callbacks import (Callback, CallbackList, CSVLogger, EarlyStopping, History, LambdaCallback,
                        LearningRateScheduler, ModelCheckpoint, ProgressBar, TerminateOnDivergence, TerminateOnNaN,
                        get_lr, set_lr)
from .loop import Trainer, as_loader, evaluate, fit, predict, weight_penalty
from .lr_finder import LRFinderResult, lr_find

__all__ = ["fit", "evaluate", "predict", "Trainer", "History", "weight_penalty", "as_loader",
           "Callback", "CallbackList", "LambdaCallback", "EarlyStopping", "ModelCheckpoint", "ProgressBar",
           "CSVLogger", "LearningRateScheduler", "TerminateOnNaN", "TerminateOnDivergence", "get_lr", "set_lr",
           "lr_find", "LRFinderResult", "metrics"]
