"""``Optimizer``: the loop every optimizer shares.

An optimizer holds parameter groups (lists of parameters with their own
hyperparameters) and a per-parameter ``state`` (moment estimates, step
counts). ``step()`` walks the groups and calls ``update_one`` for every
parameter that has a gradient; a subclass writes only ``init_state`` and
``update_one``, the way Keras optimizers write ``update_step`` and DeZero's
write ``update_one``.

The contract with the engine is small: a parameter ``p`` has ``p.array`` (a
floating ndarray) and ``p.grad``, which is ``None`` or has ``.data`` (an array
of the same shape). Updates write into ``p.array`` in place, because layers
and other tensors hold references to that array, and never write into
``p.grad.array``, which the engine may share.

Names, defaults, update rules and the ``state_dict`` layout follow
``torch.optim`` (PyTorch 2.13), so habits and checkpoints' structure transfer.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from .. import kernels, workspace
from ..backend import get_array_module

__all__ = ["Optimizer"]


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of parameters, or of dicts (parameter groups),
    each with a ``"params"`` entry and any hyperparameters that differ from
    ``defaults``::

        SGD([{"params": model.features.parameters()},
             {"params": model.head.parameters(), "lr": 1e-2}], lr=1e-3, momentum=0.9)

    ``(name, parameter)`` pairs (``module.named_parameters()``) are accepted
    too; the names are kept in the group's ``"param_names"``.

    Subclasses set ``defaults`` (every hyperparameter with its default), check
    values in ``_check_hyperparameters``, create per-parameter state in
    ``init_state`` and apply one update in ``update_one``.
    """

    #: state entries that are Python numbers, not arrays (restored as such by load_state_dict)
    _scalar_state: tuple[str, ...] = ("step",)
    #: name of the fused kernel of ``update_one`` in ``neurona.kernels`` (None: the reference only)
    kernel: str | None = None

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self._check_hyperparameters(self.defaults, "")
        self.state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)  # parameter -> its state
        self.param_groups: list[dict[str, Any]] = []
        self._opt_called = False  # lets an lr scheduler warn when it is stepped before the optimizer

        name = type(self).__name__
        if _is_parameter(params):
            raise TypeError(
                f"{name}: params should be an iterable of parameters or of dicts (parameter groups), "
                f"got a single {type(params).__name__}; wrap it in a list: {name}([p], ...)"
            )
        if isinstance(params, dict):
            raise TypeError(f"{name}: params is a dict; pass a list of parameter groups: {name}([group], ...)")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: params is a set, whose order changes between runs; pass a list instead")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{name}: params should be an iterable of parameters or of dicts, got a "
                            f"{type(params).__name__}; for a module pass model.parameters()") from None
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # --- what subclasses write ------------------------------------------------

    def _check_hyperparameters(self, hp: dict[str, Any], where: str) -> None:
        """Raise ``ValueError`` for an invalid value in ``hp`` (a group, or the defaults)."""
        _check_nonnegative(self, hp, where, "lr")

    def init_state(self, p, group: dict[str, Any]) -> dict[str, Any]:
        """The state of parameter ``p`` before its first update."""
        return {}

    def update_one(self, p, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update ``p.array`` in place from its gradient ``grad`` (read only)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement update_one")

    # --- the loop -------------------------------------------------------------

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; return ``closure()``'s loss, if given.

        ``closure`` re-evaluates the model and returns the loss (it runs with
        gradients enabled); parameters whose ``grad`` is ``None`` are skipped.
        """
        loss = None
        if closure is not None:
            from ..engine import enable_grad
            with enable_grad():
                loss = closure()
        self._opt_called = True
        state = self.state
        update = self.update_one
        fast = self._fast_update()
        # a state that starts empty (SGD's) stays {} until the update fills it: no init_state call per step
        starts_full = type(self).init_state is not Optimizer.init_state
        for group in self.param_groups:
            thetas, grads, states = [], [], []  # what the fused kernel updates, all at once
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                grad = g.array
                theta = p.array
                if grad.shape != theta.shape:
                    raise ValueError(
                        f"{type(self).__name__}.step: a gradient of shape {grad.shape} for a parameter of "
                        f"shape {theta.shape}; p.grad must have the parameter's shape"
                    )
                s = state.get(p)
                if not s and (s is None or starts_full):
                    s = state[p] = self.init_state(p, group)
                if fast is not None and _plain(theta, grad):
                    thetas.append(theta)
                    grads.append(grad if grad.flags.c_contiguous else np.ascontiguousarray(grad))
                    states.append(s)
                else:
                    update(p, grad, s, group)
            if thetas:
                fast(thetas, grads, states, group)
        return loss

    def _fast_update(self):
        """The fused kernel of this optimizer's update (``neurona.kernels``), or None for ``update_one``.

        A subclass that writes its own ``update_one`` runs it, not the kernel of the class it extends.
        """
        name = self.kernel
        if name is None:
            return None
        for klass in type(self).__mro__:
            if "kernel" in klass.__dict__:
                if klass.update_one is not type(self).update_one:
                    return None
                break
        return kernels.lookup(name)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set each ``p.grad`` to ``None`` (default) or to zeros.

        With ``set_to_none=False`` the gradient gets a fresh zero array rather
        than being zeroed in place, since the engine may share gradient arrays.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array = get_array_module(p.grad.array).zeros_like(p.grad.array)

    def _work(self, like: np.ndarray, count: int) -> list:
        """``count`` scratch arrays shaped like ``like`` from the workspace; ``update_one`` gives them back."""
        xp = get_array_module(like)
        return [workspace.take(like.shape, like.dtype, xp) for _ in range(count)]

    def _effective_grad(self, p: np.ndarray, grad: np.ndarray, weight_decay: float, maximize: bool,
                        out: np.ndarray) -> np.ndarray:
        """g = ±grad + λθ (the L2 penalty λ/2·‖θ‖² folded into the gradient), written in ``out`` if needed.

        ``grad`` itself is never written. With neither decay nor ``maximize``
        it is returned as is.
        """
        if weight_decay != 0:
            np.multiply(p, weight_decay, out=out)
            if maximize:
                np.subtract(out, grad, out=out)
            else:
                np.add(out, grad, out=out)
            return out
        if maximize:
            return np.negative(grad, out=out)
        return grad

    # --- groups ---------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones take the defaults).

        Useful when fine-tuning: unfreeze a layer and hand it to the optimizer
        with a smaller ``lr``.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: a parameter group must be a dict, "
                            f"got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: the group has no 'params' entry "
                             f"(keys: {sorted(param_group)})")
        index = len(self.param_groups)
        group = dict(param_group)
        params = group["params"]
        if _is_parameter(params):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: the parameters of group {index} are a set, whose order changes "
                            f"between runs; pass a list instead")
        else:
            params = list(params)
        names = [q[0] for q in params if isinstance(q, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{name}: group {index} mixes (name, parameter) pairs and bare parameters")
            group["param_names"] = names
            params = [q[1] for q in params]
        for i, p in enumerate(params):
            _check_parameter(name, p, index, i)

        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_hyperparameters(group, f" (parameter group {index})")

        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: parameter group {index} lists the same parameter more than once")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        if self.param_groups and (("param_names" in group) != ("param_names" in self.param_groups[0])):
            raise ValueError(f"{name}: all parameter groups must be given either with names or without")
        group["params"] = params
        self.param_groups.append(group)

    # --- checkpoints ----------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer: ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are referred to by their position across the groups, as in
        PyTorch, so the dict holds only numbers, strings, tuples, lists and
        arrays and can be saved without pickle. Arrays are copies: training on
        does not change a snapshot already taken.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _copy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: {k: _copy(v) for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` into an optimizer built over the same parameters, in the same order.

        Hyperparameters come from the saved groups; floating state arrays take
        each parameter's dtype. Values are copied. Integer keys given as
        strings, 0-d arrays for numbers and lists for tuples (what a JSON or
        ``.npz`` round trip produces) are accepted.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups', "
                             f"as returned by state_dict()")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        id_map = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            saved_params = [int(k) for k in np.asarray(saved["params"]).reshape(-1)]
            if len(saved_params) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has {len(group['params'])} "
                                 f"parameters, the saved one {len(saved_params)}")
            id_map.update(zip(saved_params, group["params"]))

        new_state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, saved in state_dict["state"].items():
            k = int(k)
            if k not in id_map:
                raise ValueError(f"{name}.load_state_dict: state for parameter {k}, which no saved group lists")
            p = id_map[k]
            new_state[p] = {key: self._restore_state_value(p, k, key, v) for key, v in saved.items()}

        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            new = {key: self._restore_hyperparameter(key, v) for key, v in saved.items()
                   if key not in ("params", "param_names")}
            new["params"] = group["params"]
            if "param_names" in group:
                new["param_names"] = group["param_names"]
            self._check_hyperparameters(new, f" (loaded parameter group {i})")
            new_groups.append(new)
        self.state = new_state
        self.param_groups = new_groups

    def _restore_state_value(self, p, k: int, key: str, v):
        if key in self._scalar_state:
            v = v.item() if hasattr(v, "item") else v
            return int(v) if key == "step" else float(v)
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        xp = get_array_module(p.array)
        v = xp.asarray(v)
        if v.shape != p.array.shape:
            raise ValueError(f"{type(self).__name__}.load_state_dict: state '{key}' of parameter {k} has shape "
                             f"{v.shape}, the parameter has shape {p.array.shape}")
        return v.astype(p.array.dtype, copy=True) if v.dtype.kind == "f" else v.copy()

    def _restore_hyperparameter(self, key: str, v):
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v.item()
        elif isinstance(v, np.generic):
            v = v.item()
        if isinstance(self.defaults.get(key), tuple) and isinstance(v, (list, tuple, np.ndarray)):
            v = tuple(x.item() if hasattr(x, "item") else x for x in v)
        return _copy(v)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k not in ("params", "param_names")]
        lines.append(")")
        return "\n".join(lines)


# --- helpers ----------------------------------------------------------------

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _plain(theta, grad) -> bool:
    """Whether a fused kernel can update ``theta``: C-contiguous NumPy float32/float64, a gradient of its dtype."""
    return (type(theta) is np.ndarray and type(grad) is np.ndarray and theta.flags.c_contiguous
            and theta.dtype in _KERNEL_DTYPES and grad.dtype == theta.dtype)



def _is_parameter(x) -> bool:
    return hasattr(x, "data") and hasattr(x, "grad") and not isinstance(x, dict)


def _check_parameter(optimizer: str, p, group: int, i: int) -> None:
    where = f"parameter {i} of group {group}"
    if not _is_parameter(p):
        raise TypeError(f"{optimizer} can only optimize parameters (objects with .data and .grad), "
                        f"but {where} is a {type(p).__name__}")
    dtype = getattr(p.array, "dtype", None)
    if dtype is None or dtype.kind != "f":
        raise TypeError(f"{optimizer} can only optimize floating-point parameters; {where} has dtype {dtype}")
    if not getattr(p, "is_leaf", True):
        raise ValueError(f"{optimizer} can't optimize a non-leaf tensor ({where} is the output of an op); "
                         f"optimize the leaves it was computed from")


def _check_nonnegative(opt: Optimizer, hp: dict, where: str, *keys: str) -> None:
    for key in keys:
        v = hp[key]
        if not v >= 0.0:  # also rejects NaN
            raise ValueError(f"{type(opt).__name__}: invalid {key} {v!r}{where}; expected a value >= 0")


def _check_betas(opt: Optimizer, hp: dict, where: str) -> None:
    betas = hp["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{type(opt).__name__}: betas must be a pair (beta1, beta2){where}, got {betas!r}")
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{type(opt).__name__}: invalid beta parameter at index {i}: {b!r}{where}; "
                             f"expected 0 <= beta < 1")


def _copy(v):
    if hasattr(v, "shape") and hasattr(v, "copy"):  # ndarray (NumPy or CuPy) or NumPy scalar
        return v.copy()
    if isinstance(v, list):
        return [_copy(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_copy(x) for x in v)
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return v
