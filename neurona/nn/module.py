"""``Module``: the base class of every layer and model.

A module holds hyperparameters, learnable ``Parameter``\\ s, non-learnable
*buffers* (e.g. BatchNorm's running statistics) and sub-modules. All three
register themselves by plain attribute assignment in ``__init__``::

    class TwoLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(784, 128)   # a sub-module
            self.out = nn.Linear(128, 10)

        def forward(self, x):
            return self.out(self.hidden(x).relu())

Calling the module (``model(x)``) runs ``forward``. The names, signatures
and behaviour follow PyTorch's ``torch.nn.Module``: ``parameters()``,
``state_dict()`` / ``load_state_dict()``, ``train()`` / ``eval()``,
``zero_grad()``, ``requires_grad_()``, ``apply()``, ``to(device | dtype)``.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator

import numpy as np

from .. import backend
from ..engine import Function, RemovableHandle, Tensor, is_grad_enabled
from .parameter import Parameter

__all__ = ["Module", "Parameter", "RemovableHandle"]

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _check_name(kind: str, name, owner: "Module") -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got "{name}"')


def _count(params) -> int:
    return sum(int(p.array.size) for p in params)


class Module:
    """Base class of layers and models (PyTorch's ``nn.Module`` semantics).

    Subclasses call ``super().__init__()`` first, assign parameters, buffers
    and sub-modules as attributes, and define ``forward``.
    """

    training: bool
    _version = 1

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()

    # --- forward ---------------------------------------------------------------

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__}.forward is not written: a Module subclass defines forward(self, ...) "
            f"with the computation of the layer"
        )

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not (d["_forward_hooks"] or d["_forward_pre_hooks"] or d.get("_backward_hooks")
                or d.get("_backward_pre_hooks")):
            return self.forward(*args, **kwargs)
        for hook in list(d["_forward_pre_hooks"].values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        taps = None
        if (d.get("_backward_hooks") or d.get("_backward_pre_hooks")) and is_grad_enabled():
            taps = _BackwardTaps(self)
            args = taps.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        for hook in list(d["_forward_hooks"].values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        if taps is not None:
            out = taps.wrap_outputs(out)
        return out

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward; a non-None result replaces the output."""
        h = RemovableHandle(self._forward_hooks)
        self._forward_hooks[h.id] = hook
        return h

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before every forward; a non-None result replaces the inputs."""
        h = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[h.id] = hook
        return h

    def register_full_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients of the module's inputs are computed.

        ``grad_input`` and ``grad_output`` are tuples of Tensors, one per tensor
        input and output: None for an input that does not require grad, zeros
        for an output that the loss does not use (where PyTorch gives None).
        A non-None result (a tuple like ``grad_input``) replaces the gradients
        passed on to the inputs.

        >>> import neurona
        >>> layer = neurona.nn.Linear(3, 2)
        >>> seen = []
        >>> _ = layer.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].shape))
        >>> layer(neurona.randn(4, 3)).sum().backward()
        >>> seen
        [(4, 2)]
        """
        self.__dict__.setdefault("_backward_hooks", OrderedDict())
        h = RemovableHandle(self._backward_hooks)
        self._backward_hooks[h.id] = hook
        return h

    def register_full_backward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` before the module's backward; a non-None result replaces grad_output."""
        self.__dict__.setdefault("_backward_pre_hooks", OrderedDict())
        h = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[h.id] = hook
        return h

    # --- registration ------------------------------------------------------------

    def _require_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} before Module.__init__() call: call super().__init__() first in "
                f"{type(self).__name__}.__init__"
            )

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``, a declared but absent parameter such as a disabled bias)."""
        self._require_init("parameters")
        _check_name("parameter", name, self)
        if name in self.__dict__ or name in self._buffers or name in self._modules:
            if name not in self._parameters:
                raise KeyError(f"attribute '{name}' already exists in {type(self).__name__}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                f"(neurona.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state that is saved in ``state_dict`` (unless ``persistent=False``) but not learned.

        >>> import neurona
        >>> m = neurona.nn.Module()
        >>> m.register_buffer("running_mean", neurona.zeros(4))
        >>> [name for name, _ in m.named_buffers()]
        ['running_mean']
        """
        self._require_init("buffers")
        _check_name("buffer", name, self)
        if (name in self.__dict__ or name in self._parameters or name in self._modules) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists in {type(self).__name__}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None required)")
        if isinstance(tensor, Parameter):
            raise TypeError(f"buffer '{name}': a Parameter is learnable; assign it as an attribute instead")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a sub-module under ``name`` (what assigning ``self.name = module`` does)."""
        self._require_init("submodules")
        _check_name("module", name, self)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if (name in self.__dict__ or name in self._parameters or name in self._buffers) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists in {type(self).__name__}")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._require_init("parameters")
            if params is not None and name in params:  # replaced in place: the order of parameters stays
                params[name] = value
                return
            self._forget(name)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' of {type(self).__name__} "
                    f"(neurona.nn.Parameter or None expected); to change its values use "
                    f"`with neurona.no_grad(): module.{name}.copy_(...)` or wrap it in nn.Parameter"
                )
            params[name] = None
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            self._require_init("submodules")
            if name not in modules:  # a child replaced in place keeps its position (Sequential's order)
                self._forget(name)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' (Module or None expected)")
            modules[name] = None
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        d = self.__dict__
        d.pop(name, None)
        for key in ("_parameters", "_buffers", "_modules"):
            d[key].pop(name, None)
        d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name: str):
        # called only when normal lookup fails: look in the registries
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            reg = d.get(key)
            if reg is not None and name in reg:
                return reg[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d.get(key, ()):
                del d[key][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = set(super().__dir__())
        for key in ("_parameters", "_buffers", "_modules"):
            keys.update(self.__dict__.get(key, {}))
        return sorted(keys)

    # --- traversal ---------------------------------------------------------------

    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """Yield ``(name, module)`` for this module (name ``""``) and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, v in m.__dict__[registry].items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Yield ``("layer.weight", parameter)`` pairs; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The learnable parameters, each once: what an optimizer takes, ``SGD(model.parameters(), lr=0.1)``."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        """The sub-module at a dotted path, e.g. ``model.get_submodule("encoder.0")``."""
        if target == "":
            return self
        m = self
        for i, part in enumerate(target.split(".")):
            sub = m._modules.get(part)
            if sub is None:
                where = ".".join(target.split(".")[:i]) or "the model"
                raise AttributeError(f"get_submodule: {where} ({type(m).__name__}) has no sub-module '{part}'")
            m = sub
        return m

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalar parameters (shared ones counted once); ``trainable_only`` skips frozen ones."""
        return _count(p for p in self.parameters() if p.requires_grad or not trainable_only)

    # --- modes and gradients ---------------------------------------------------------

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (Dropout active, BatchNorm uses batch statistics) here and in every sub-module."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (``False``) or unfreeze every parameter: frozen ones get no gradient and are not updated."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradients: ``.grad = None`` (default) or zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.array = np.zeros_like(p.grad.array)  # a fresh array: the old one may be referenced elsewhere

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn(m)`` on every sub-module (children first) and then on this module; e.g. custom init."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- dtype and device ---------------------------------------------------------------

    def _convert(self, dtype=None, device=None) -> "Module":
        """Cast floating parameters and buffers to ``dtype`` and move all of them to ``device``, in place.

        Each tensor keeps its identity (its ``.array`` is swapped, as PyTorch
        swaps ``.data``), so optimizers and other references keep working.
        """
        from .. import backend

        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to: modules can only be cast to a floating dtype, got {dtype}")
        for m in self.modules():
            for reg in (m._parameters, m._buffers):
                for t in reg.values():
                    if t is None:
                        continue
                    for holder in (t, t.grad):
                        if holder is None:
                            continue
                        a = holder.array
                        if dtype is not None and a.dtype.kind == "f" and a.dtype != dtype:
                            a = a.astype(dtype)
                        if device is not None and backend.device_of(a) != device:
                            a = backend.to_device(a, device)
                        holder.array = a
        return self

    def to(self, *args, **kwargs) -> "Module":
        """Cast floating parameters and buffers and/or move them, in place: ``model.to(neurona.float64)``,
        ``model.to("cpu")``, ``model.to(device, dtype)``, ``model.to(tensor)`` (PyTorch's forms). Returns the module.
        """
        from .. import backend

        if args and isinstance(args[0], Tensor):
            args = (args[0].device, args[0].array.dtype) + args[1:]
        device, dtype, _ = backend.parse_to(args, kwargs, "Module.to")
        return self._convert(dtype, device)

    def float(self) -> "Module":
        return self._convert(np.dtype(np.float32))

    def double(self) -> "Module":
        return self._convert(np.dtype(np.float64))

    def half(self) -> "Module":
        return self._convert(np.dtype(np.float16))

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device=None) -> "Module":
        from .. import backend

        return self.to(backend.cuda_device(device))

    # --- state dict ---------------------------------------------------------------------

    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by dotted name, as PyTorch gives them.

        The values are tensors cut from the graph that share memory with the
        parameters (``keep_vars=True``: the parameters themselves), so a later
        step of training changes them too; to keep a snapshot, clone it:
        ``{k: v.clone() for k, v in model.state_dict().items()}``.

        >>> import neurona
        >>> sd = neurona.nn.Linear(3, 2).state_dict()
        >>> {k: tuple(v.shape) for k, v in sd.items()}
        {'weight': (2, 3), 'bias': (2,)}
        """
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def _state_tensors(self, prefix: str = "", out: dict | None = None) -> dict:
        if out is None:
            out = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                out[prefix + name] = b
        for name, m in self._modules.items():
            if m is not None:
                m._state_tensors(prefix + name + ".", out)
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values from ``state_dict`` into the parameters and buffers (in place, converted to their dtype).

        Every key is checked first; on any problem (a missing or unexpected
        key when ``strict``, a shape mismatch, a non-numeric value) a
        ``RuntimeError`` names every offending key and the module is left
        unchanged. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a dict of name -> array, got {type(state_dict).__name__}")
        targets = self._state_tensors()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in targets]
        problems, arrays = [], {}
        for k, t in targets.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            a = v.array if isinstance(v, Tensor) else (v if backend.is_array(v) else np.asarray(v))
            if a.dtype.kind not in "fiub":
                problems.append(f'value for "{k}" has dtype {a.dtype}, expected numbers')
                continue
            if a.shape != t.array.shape:
                problems.append(
                    f'size mismatch for "{k}": copying a value of shape {tuple(a.shape)}, '
                    f"the parameter in the current model has shape {tuple(t.array.shape)}"
                )
                continue
            arrays[k] = a
        if strict:
            if missing:
                problems.insert(0, "missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
            if unexpected:
                problems.insert(1 if missing else 0,
                                "unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected))
        if problems:
            raise RuntimeError(
                f"error(s) in loading state_dict for {type(self).__name__} (nothing was changed):\n\t"
                + "\n\t".join(problems)
            )
        for k, a in arrays.items():
            dst = targets[k].array
            # in place: optimizers and views keep pointing at the same array; a file's host array crosses to its device
            dst[...] = backend.to_device(a, backend.device_of(dst)).astype(dst.dtype, copy=False)
        return _IncompatibleKeys(missing, unexpected)

    # --- printing -----------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The hyperparameters shown inside the parentheses of ``repr`` (override in layers)."""
        return ""

    def _own_count_note(self) -> str:
        params = list(self.parameters())
        if not params:
            return ""
        n = _count(params)
        frozen = _count(p for p in params if not p.requires_grad)
        note = f"{n:,} param" + ("" if n == 1 else "s")
        if frozen:
            note += f", {frozen:,} frozen"
        return f"[{note}]"

    def _repr_body(self, top: bool = False) -> str:
        extra = self.extra_repr()
        note = self._own_count_note()
        children = [(n, m) for n, m in self._modules.items() if m is not None]
        if not children:
            s = f"{type(self).__name__}({extra})"
            return s + ("  " + note if note else "")
        # a container's own count is shown beside its header, except at the top where the totals follow
        lines = [f"{type(self).__name__}(" + (extra + "," if extra else "") + ("  " + note if note and not top else "")]
        for name, m in children:
            body = m._repr_body().replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)

    def __repr__(self) -> str:
        body = self._repr_body(top=True)
        if not any(m is not None for m in self._modules.values()):
            return body
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        return body + f"\nTotal parameters: {total:,} (trainable: {trainable:,}, non-trainable: {total - trainable:,})"


# --- backward hooks ------------------------------------------------------------------------------


class _Tap(Function):
    """Identity on several tensors at once: forward joins them into one flat array, backward hands all their
    gradients to ``on_grad`` in one call (so a hook sees the whole tuple) and splits its answer back."""

    def __init__(self, on_grad):
        self.on_grad = on_grad

    def forward(self, *xs):
        self.shapes = [x.shape for x in xs]
        return np.concatenate([x.reshape(-1) for x in xs])

    def backward(self, g):
        parts, start = [], 0
        for shape in self.shapes:
            n = int(np.prod(shape, dtype=np.int64))
            parts.append(g[start:start + n].reshape(shape))
            start += n
        return tuple(self.on_grad(tuple(parts)))


def _as_grads(values, like: list) -> list:
    out = []
    for v, ref in zip(values, like):
        if v is None:
            out.append(np.zeros_like(ref))
        else:
            a = v.array if isinstance(v, Tensor) else np.asarray(v)
            if a.shape != ref.shape:
                raise ValueError(f"backward hook: returned a gradient of shape {a.shape}, expected {ref.shape}")
            out.append(a.astype(ref.dtype, copy=False))
    return out


class _BackwardTaps:
    """What one call of a module with backward hooks records: which inputs and outputs to watch."""

    def __init__(self, module: "Module"):
        self.module = module
        self.n_inputs = 0
        self.grad_output: tuple = ()
        self.input_tapped = False

    def _tap(self, tensors: list, on_grad) -> list:
        from ..functional.shape import getitem, reshape
        dtypes = {t.array.dtype for t in tensors}
        if len(dtypes) > 1:
            raise TypeError(f"{type(self.module).__name__}: backward hooks need the module's tensors to share one "
                            f"dtype, got {sorted(map(str, dtypes))}")
        flat = _Tap(on_grad)(*tensors)
        out, start = [], 0
        for t in tensors:
            n = int(t.array.size)
            out.append(reshape(getitem(flat, slice(start, start + n)), t.shape))
            start += n
        return out

    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_inputs = sum(isinstance(a, Tensor) for a in args)
        watched = [k for k, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not watched:
            return args
        self.input_tapped = True
        self.watched_inputs = watched
        tapped = self._tap([args[k] for k in watched], self._on_grad_input)
        args = list(args)
        for k, t in zip(watched, tapped):
            args[k] = t
        return tuple(args)

    def wrap_outputs(self, out):
        leaves: list = []
        _collect(out, leaves)
        watched = [t for t in leaves if t.requires_grad]
        if not watched:
            return out
        self.outputs = [id(t) for t in leaves]
        self.watched_outputs = [k for k, t in enumerate(leaves) if t.requires_grad]
        self.n_outputs = len(leaves)
        tapped = dict(zip(map(id, watched), self._tap(watched, self._on_grad_output)))
        return _rebuild(out, tapped)

    def _on_grad_output(self, grads: tuple) -> tuple:
        module = self.module
        full = [None] * self.n_outputs
        for k, g in zip(self.watched_outputs, grads):
            full[k] = Tensor(g, dtype=g.dtype)
        for hook in list(module.__dict__.get("_backward_pre_hooks", {}).values()):
            res = hook(module, tuple(full))
            if res is not None:
                full = list(res) if isinstance(res, (tuple, list)) else [res]
        self.grad_output = tuple(full)
        if not self.input_tapped:  # nothing upstream needs a gradient: the hooks are called now, as PyTorch does
            self._call_hooks((None,) * self.n_inputs)
        return tuple(_as_grads([full[k] for k in self.watched_outputs], list(grads)))

    def _on_grad_input(self, grads: tuple) -> tuple:
        full: list = [None] * self.n_inputs
        tensor_positions = self.watched_inputs
        for k, g in zip(tensor_positions, grads):
            full[k] = Tensor(g, dtype=g.dtype)
        res = self._call_hooks(tuple(full))
        if res is None:
            return grads
        return tuple(_as_grads([res[k] for k in tensor_positions], list(grads)))

    def _call_hooks(self, grad_input: tuple):
        module, result = self.module, None
        for hook in list(module.__dict__.get("_backward_hooks", {}).values()):
            res = hook(module, grad_input if result is None else result, self.grad_output)
            if res is not None:
                result = tuple(res) if isinstance(res, (tuple, list)) else (res,)
        return result


def _collect(out, leaves: list) -> None:
    if isinstance(out, Tensor):
        leaves.append(out)
    elif isinstance(out, (tuple, list)):
        for o in out:
            _collect(o, leaves)


def _rebuild(out, tapped: dict):
    if isinstance(out, Tensor):
        return tapped.get(id(out), out)
    if isinstance(out, tuple) and hasattr(out, "_fields"):  # a named tuple
        return type(out)(*(_rebuild(o, tapped) for o in out))
    if isinstance(out, (tuple, list)):
        return type(out)(_rebuild(o, tapped) for o in out)
    return out
