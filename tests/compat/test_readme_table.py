"""The README's table of PyTorch names neurona does not have yet stays honest and complete.

``tests/fixtures/pytorch_names.json`` (written by ``record_pytorch_names.py``
from PyTorch itself) lists, per namespace, the public PyTorch names a user
plausibly meets. Every one of them must either exist in neurona's namespace of
the same name or be listed in the README table, and every name the table lists
must be missing from neurona. No torch import: ``dir()`` of neurona only.
"""
from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NAMES = ROOT / "tests" / "fixtures" / "pytorch_names.json"
HEADING = "### Not-yet-supported PyTorch names"


def table_rows(text: str) -> list[tuple[str, str]]:
    """(namespace cell, names cell) of each row of the table under HEADING."""
    assert HEADING in text, f"README.md has no section {HEADING!r}"
    rows, in_table = [], False
    for line in text.split(HEADING, 1)[1].splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if in_table and not set(cells[0]) <= set("-: "):
                rows.append((cells[0], cells[1]))
            in_table = True
        elif in_table:
            break
    return rows


def missing_in_readme() -> dict[str, list[str]]:
    """namespace -> names, in the order the table lists them."""
    table: dict[str, list[str]] = {}
    for ns_cell, names_cell in table_rows(README.read_text(encoding="utf-8")):
        ns = re.fullmatch(r"`([\w.]+)`", ns_cell)
        assert ns, f"README table: the namespace cell {ns_cell!r} should be one name in backticks, e.g. `torch.nn`"
        names = re.findall(r"`(\w+)`", names_cell)
        assert names, f"README table: a {ns_cell} row lists no names"
        table.setdefault(ns.group(1), []).extend(names)
    return table


def recorded() -> dict[str, list[str]]:
    return json.loads(NAMES.read_text())["namespaces"]


def neurona_namespace(torch_path: str):
    """neurona's object for a PyTorch namespace: 'torch.nn.functional' -> neurona.nn.functional."""
    parts = ("neurona" + torch_path[len("torch"):]).split(".")
    obj = importlib.import_module(parts[0])
    for i, p in enumerate(parts[1:], start=1):
        try:
            obj = getattr(obj, p)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[: i + 1]))
    return obj


def test_the_table_parses_and_covers_the_recorded_namespaces():
    table = missing_in_readme()
    assert len(table_rows(README.read_text(encoding="utf-8"))) >= 10
    assert set(table) <= set(recorded()), f"README table names namespaces that are not recorded: {set(table) - set(recorded())}"
    for ns, names in table.items():
        repeated = sorted({n for n in names if names.count(n) > 1})
        assert not repeated, f"README table lists {ns} names more than once: {repeated}"


@pytest.mark.parametrize("ns", sorted(json.loads(NAMES.read_text())["namespaces"]))
def test_listed_names_are_really_missing(ns):
    listed = missing_in_readme().get(ns, [])
    unknown = [n for n in listed if n not in recorded()[ns]]
    assert not unknown, (f"README table lists {ns} names that tests/fixtures/pytorch_names.json does not record "
                         f"(a typo, or a name that PyTorch does not have): {unknown}")
    target = neurona_namespace(ns)
    present = [n for n in listed if hasattr(target, n)]
    assert not present, (f"{ns}: neurona now has {present}; remove them from the table of not-yet-supported names "
                         f"in README.md")


@pytest.mark.parametrize("ns", sorted(json.loads(NAMES.read_text())["namespaces"]))
def test_every_other_recorded_name_exists(ns):
    listed = set(missing_in_readme().get(ns, []))
    target = neurona_namespace(ns)
    absent = [n for n in recorded()[ns] if n not in listed and not hasattr(target, n)]
    assert not absent, (f"{ns}: neurona has no {absent}; add them to the table of not-yet-supported names in "
                        f"README.md, or add them to neurona")


def test_the_fixture_is_the_plausible_subset():
    rec = json.loads(NAMES.read_text())
    assert rec["pytorch_version"].startswith("2.")
    names = rec["namespaces"]
    # the basics every tutorial uses are recorded, and internals are filtered out
    assert {"tensor", "no_grad", "manual_seed", "float32"} <= set(names["torch"])
    assert {"backward", "zero_", "item"} <= set(names["torch.Tensor"])
    assert {"Linear", "Conv2d", "CrossEntropyLoss"} <= set(names["torch.nn"])
    assert not [n for ns in names.values() for n in ns if n.startswith("_")]
    assert not {"jit", "fx", "compile", "quantize_per_tensor", "sparse_coo_tensor", "complex64", "cudnn_convolution",
                "ScriptModule", "UntypedStorage"} & set(names["torch"])
