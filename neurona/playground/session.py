"""One browser tab's playground: its points, its runs (A, and B when comparing), and the page's messages.

The page and the server speak JSON over a WebSocket. The page sends

    {"type": "config", "config": {...settings...}}   change settings (all or some)
    {"type": "play"} / {"type": "pause"} / {"type": "step"} / {"type": "reset"} / {"type": "regenerate"}
    {"type": "add_point", "x": 1.5, "y": -2, "label": 1}   a point (page coordinates) of that class / value
    {"type": "clear_points"}                         start an empty data set of your own
    {"type": "upload", "name": "my.csv", "text": "x1,x2,label\\n..."}
    {"type": "inspect", "x": 1.5, "y": -2} / {"type": "inspect", "clear": true}
    {"type": "compare", "on": true}                  pin the current settings as run B

and receives ``config``, ``data``, ``frame``, ``notice`` and ``error``
messages (see :meth:`Session.frame`). :class:`Session` holds no network
code: the server calls :meth:`handle` and :meth:`advance` from one worker
thread per session, so each session's state changes in one thread only.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .config import DATA_KEYS, LIVE_KEYS, MODEL_KEYS, Config, ConfigError, Limits
from .datasets import DOMAIN, DataError, PointSet, make_points, parse_csv, split
from .deltas import point_deltas
from .export import model_file, python_code
from .training import GRID, Run, grid_points

__all__ = ["Session", "PlaygroundError", "Reply"]


class PlaygroundError(ValueError):
    """A request the session refuses; the message is shown on the page. ``key``: the setting at fault, if any."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclasses.dataclass
class Reply:
    """What a handled message produces: messages to send, and whether a new frame should follow."""

    messages: list
    frame: bool = False


class Session:
    """The state behind one tab."""

    def __init__(self, limits: Limits | None = None, sid: str = ""):
        self.limits = limits or Limits()
        self.id = sid
        self.config = Config()
        self.data = self._make_data(self.config)
        self.runs: dict[str, Run] = {"A": Run(self.config, self.data, "A")}
        self.playing = False
        self.selected: int | None = None
        self.grid = grid_points(GRID)
        self._rate = _StepRate()
        self._notices: list[str] = []

    # --- data ---
    def _make_data(self, cfg: Config) -> PointSet:
        try:
            return make_points(cfg.dataset, cfg.points, cfg.noise, cfg.classes, cfg.ratio, cfg.seed)
        except DataError as e:
            raise PlaygroundError(str(e)) from None

    def _set_points(self, data: PointSet, reset: bool) -> None:
        self.data = data
        self.selected = None
        for run in self.runs.values():
            if reset:
                run.data = data
                run.reset()
            else:
                run.set_data(data)

    # --- messages ---
    def handle(self, msg: dict) -> Reply:
        """Apply one message from the page; raises PlaygroundError (shown on the page) when it is refused."""
        kind = msg.get("type")
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) and kind.isidentifier() else None
        if handler is None:
            raise PlaygroundError(f"unknown message type {kind!r}")
        try:
            return handler(msg)
        except ConfigError as e:
            raise PlaygroundError(str(e), e.key) from None
        except DataError as e:
            raise PlaygroundError(str(e)) from None

    def _on_hello(self, msg) -> Reply:
        return Reply([self.config_message(), self.data.to_message()], frame=True)

    def _on_config(self, msg) -> Reply:
        """New settings for run A (run B, when comparing, shares only the data settings)."""
        new = self.config.updated(msg.get("config"), self.limits)
        old = self.config
        changed = {k for k in dataclasses.asdict(new) if getattr(new, k) != getattr(old, k)}
        if not changed:
            return Reply([self.config_message()])
        if new.dataset == "custom" and old.dataset != "custom":
            raise PlaygroundError("dataset: 'custom' holds your own points: upload a CSV file or add points on the "
                                  "map", "dataset")
        if new.dataset == "custom" and new.problem != self.data.task:
            raise PlaygroundError(f"problem: your points are a {self.data.task} problem; choose a built-in data set "
                                  f"for a {new.problem}", "problem")
        if new.dataset == "custom" and self.data.task == "classification" and new.classes != self.data.classes:
            raise PlaygroundError(f"classes: your points have {self.data.classes} classes; the number of classes "
                                  f"of a built-in data set can change", "classes")
        self.config = new
        data_keys = DATA_KEYS + ("ratio",)
        b = self.runs.get("B")
        if b is not None:
            shared = {k: getattr(new, k) for k in data_keys}
            if new.problem == "regression":
                shared["loss"] = "squared_error"
            b.config = dataclasses.replace(b.config, **shared)
        out = [self.config_message()]
        regenerate = bool(changed & set(DATA_KEYS)) and new.dataset != "custom"
        if regenerate or "ratio" in changed or changed & set(MODEL_KEYS):
            self.runs["A"].config = new
            if regenerate:
                self._set_points(self._make_data(new), reset=True)
                out.append(self.data.to_message())
            elif "ratio" in changed:
                data = self.data.copy()
                data.train = split(len(data), new.ratio, new.seed)
                self._set_points(data, reset=True)
                out.append(self.data.to_message())
            else:
                for run in self.runs.values():
                    run.reset()
        elif changed & set(LIVE_KEYS):
            self.runs["A"].apply_live(new)
        return Reply(out, frame=True)

    def _on_play(self, msg) -> Reply:
        self._require_training_points()
        for run in self.runs.values():
            if run.stopped:  # play after early stopping: go on, and watch again from here
                run.stopped = None
                run._setup_early_stopping()
        self.playing = True
        return Reply([self.state_message()])

    def _on_pause(self, msg) -> Reply:
        self.playing = False
        return Reply([self.state_message()])

    def _on_step(self, msg) -> Reply:
        """One epoch of every run (the demo's step)."""
        self._require_training_points()
        self.playing = False
        for run in self.runs.values():
            run.train_epoch()
        return Reply([self.state_message()], frame=True)

    def _on_reset(self, msg) -> Reply:
        """New initial weights (a new weight seed, kept in the URL); epoch 0."""
        self.playing = False
        wseed = int(np.random.default_rng().integers(0, 2**31 - 1)) if msg.get("new_weights", True) else None
        if wseed is not None:
            self.config = dataclasses.replace(self.config, wseed=wseed)
        for run in self.runs.values():
            if wseed is not None:
                run.config = dataclasses.replace(run.config, wseed=wseed)
            run.reset()
        return Reply([self.config_message(), self.state_message()], frame=True)

    def _on_regenerate(self, msg) -> Reply:
        if self.config.dataset == "custom":
            raise PlaygroundError("regenerate: your own points cannot be drawn again; choose a built-in data set")
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        self.config = dataclasses.replace(self.config, seed=seed)
        for run in self.runs.values():
            run.config = dataclasses.replace(run.config, seed=seed)
        self._set_points(self._make_data(self.config), reset=True)
        return Reply([self.config_message(), self.data.to_message()], frame=True)

    def _on_add_point(self, msg) -> Reply:
        x, y = _coordinate(msg, "x"), _coordinate(msg, "y")
        if len(self.data) >= self.limits.max_points:
            raise PlaygroundError(f"add point: the playground holds at most {self.limits.max_points} points")
        data = self.data
        label = msg.get("label")
        if data.task == "classification":
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < data.classes:
                raise PlaygroundError(f"add point: label must be a class from 0 to {data.classes - 1}, got {label!r}")
            value = np.int64(label)
        else:
            if isinstance(label, bool) or not isinstance(label, (int, float)) or not -1.0 <= label <= 1.0:
                raise PlaygroundError(f"add point: the value must be a number in [-1, 1], got {label!r}")
            value = np.float32(label * data.target_std + data.target_mean)
        data = self._own_points()
        raw = data.to_raw([x, y])
        data.X = np.concatenate([data.X, raw[None]]).astype(np.float32)
        data.y = np.concatenate([data.y, np.array([value], dtype=data.y.dtype)])
        data.train = np.concatenate([data.train, [True]])
        first = self.data.name != "custom"
        self._set_points(data, reset=first)
        return Reply(([self.config_message()] if first else []) + [self.data.to_message()], frame=True)

    def _own_points(self) -> PointSet:
        """The current points as a data set of one's own (kept when clicking on a built-in set)."""
        data = self.data.copy()
        data.name = "custom"
        if self.config.dataset != "custom":
            self.config = dataclasses.replace(self.config, dataset="custom")
            for run in self.runs.values():
                run.config = dataclasses.replace(run.config, dataset="custom")
        return data

    def _on_clear_points(self, msg) -> Reply:
        self.playing = False
        data = self._own_points()
        data.X, data.y, data.train = data.X[:0], data.y[:0], data.train[:0]
        self._set_points(data, reset=True)
        return Reply([self.config_message(), self.data.to_message()], frame=True)

    def _on_upload(self, msg) -> Reply:
        text, name = msg.get("text"), str(msg.get("name") or "upload.csv")[:200]
        if not isinstance(text, str):
            raise PlaygroundError("upload: expected the CSV file's text")
        size = len(text.encode("utf-8"))
        if size > self.limits.max_upload_bytes:
            raise PlaygroundError(f"upload: {name} is {size:,} bytes; the limit is {self.limits.max_upload_bytes:,}")
        data = parse_csv(text, ratio=self.config.ratio, seed=self.config.seed, max_points=self.limits.max_points,
                         name=name, problem=self.config.problem)
        self.playing = False
        changes = {"dataset": "custom", "problem": data.task}
        if data.task == "classification":
            changes["classes"] = data.classes
        else:
            changes["loss"] = "squared_error"
        self.config = dataclasses.replace(self.config, **changes)
        for run in self.runs.values():
            run.config = dataclasses.replace(run.config, **changes)
        self._set_points(data, reset=True)
        kind = f"{data.classes} classes" if data.task == "classification" else "a regression"
        notice = {"type": "notice", "message": f"{name}: {len(data)} points, {kind}"}
        return Reply([self.config_message(), self.data.to_message(), notice], frame=True)

    def _on_inspect(self, msg) -> Reply:
        if msg.get("clear"):
            self.selected = None
            return Reply([], frame=True)
        if not len(self.data):
            raise PlaygroundError("inspect: there are no points to choose")
        x, y = _coordinate(msg, "x"), _coordinate(msg, "y")
        d = np.sum((self.data.view - np.array([x, y], np.float32)) ** 2, axis=1)
        self.selected = int(np.argmin(d))
        return Reply([], frame=True)

    def _on_compare(self, msg) -> Reply:
        on = msg.get("on")
        if not isinstance(on, bool):
            raise PlaygroundError("compare: 'on' must be true or false")
        self.playing = False
        if on:
            a = self.runs["A"]
            self.runs = {"A": a, "B": Run(a.config, self.data, "B")}
            a.reset()
        else:
            self.runs = {"A": self.runs["A"]}
        return Reply([self.config_message(), self.state_message()], frame=True)

    def _require_training_points(self) -> None:
        if not self.data.train.any():
            raise PlaygroundError("there are no training points: add points on the map, upload a CSV file or choose "
                                  "a data set")

    # --- training while playing ---
    def advance(self, seconds: float = 0.05, frame: bool = True) -> dict | None:
        """Train every run for about ``seconds`` (the one behind first), then return a frame (if ``frame``)."""
        if self.playing:
            end = time.perf_counter() + seconds
            runs = list(self.runs.values())
            steps = 0
            while time.perf_counter() < end and self.playing:
                run = min(runs, key=lambda r: r.progress)
                run.step()
                steps += 1
                if run.stopped:
                    self.playing = False
                    self._notices.append(f"run {run.name}: {run.stopped}")
            self._rate.add(steps)
        return self.frame() if frame else None

    # --- what the page draws ---
    def config_message(self) -> dict:
        msg = {"type": "config", "config": self.config.to_dict()}
        if "B" in self.runs:
            msg["compare"] = self.runs["B"].config.to_dict()
        return msg

    def state_message(self) -> dict:
        return {"type": "state", "playing": self.playing, "compare": "B" in self.runs}

    def frame(self) -> dict:
        """Everything the page draws for the current moment of training.

        ``runs``: per run its epoch, steps, losses and accuracies, loss curve and
        decision regions; run A adds each neuron's picture (``neurons``), the
        weights (links), per-layer histograms and, when a point is chosen, its
        forward values and deltas (``inspect``).
        """
        out = {"type": "frame", "playing": self.playing,
               "steps_per_second": round(self._rate.value(), 1) if self.playing else 0.0, "runs": []}
        for name, run in self.runs.items():
            entry = run.summary()
            entry["curve"] = run.curve()
            trace: list = [] if name == "A" else None
            entry["boundary"] = run.boundary(self.grid, trace)
            if name == "A":
                entry["neurons"] = run.neuron_images(trace)
                entry["weights"] = run.weights()
                entry["residual"] = [bool(layer.residual) for layer in run.model.layers]
                entry["histograms"] = run.histograms()
                if self.selected is not None and self.selected < len(self.data):
                    entry["inspect"] = self.inspect(run, self.selected)
            out["runs"].append(entry)
        if self._notices:
            out["notices"], self._notices = self._notices, []
        return out

    def inspect(self, run: Run, index: int) -> dict:
        """The chosen point's forward values and deltas (see :mod:`neurona.playground.deltas`)."""
        data = self.data
        target = data.targets(np.arange(len(data)) == index)[0]
        target = int(target) if data.task == "classification" else float(target[0])
        was = run.model.training
        run.model.eval()
        try:
            info = point_deltas(run.model, data.X[index], target, data.task, run.config.loss)
        finally:
            run.model.train(was)
        v = data.view[index]
        info.update(index=index, x=float(v[0]), y=float(v[1]), split="train" if data.train[index] else "test",
                    label=int(data.y[index]) if data.task == "classification" else float(data.y[index]),
                    target=target)
        return info

    # --- downloads ---
    def model_file(self, run: str = "A") -> bytes:
        return model_file(self._run(run))

    def python_code(self, run: str = "A") -> str:
        return python_code(self._run(run))

    def _run(self, name: str) -> Run:
        if name not in self.runs:
            raise PlaygroundError(f"no run {name!r} (runs: {', '.join(self.runs)})")
        return self.runs[name]


def _coordinate(msg: dict, key: str) -> float:
    v = msg.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not -DOMAIN <= v <= DOMAIN:
        raise PlaygroundError(f"{msg.get('type')}: {key} must be a number in [-{DOMAIN:g}, {DOMAIN:g}], got {v!r}")
    return float(v)


class _StepRate:
    """Training steps per second over the last two seconds."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self.events: list[tuple[float, int]] = []

    def add(self, steps: int) -> None:
        now = time.perf_counter()
        self.events.append((now, steps))
        while self.events and self.events[0][0] < now - self.window:
            self.events.pop(0)

    def value(self) -> float:
        if len(self.events) < 2:
            return 0.0
        span = self.events[-1][0] - self.events[0][0]
        return sum(s for _, s in self.events[1:]) / span if span > 0 else 0.0
