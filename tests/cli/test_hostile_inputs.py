"""The hostile-input matrix of the ``neurona`` command: files, flags, signals, pipes and disks.

Whatever the user (or the machine) throws at it ends in one line
``neurona <command>: error: ...`` on stderr and a nonzero status — or, for a
closed pipe, quietly with status 0 — never a traceback, never a hang, and
nothing half-written left behind.
"""
from __future__ import annotations

import csv
import errno
import io as pyio
import json
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neurona import io
from neurona.train import loop

from .conftest import env, neurona_process


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _one_error_line(r, command: str, fragment: str, code: int = 1) -> None:
    assert r.code == code, (r.code, r.err)
    assert "Traceback" not in r.err
    assert len(r.error_lines) == 1, r.err
    assert r.error_lines[0].startswith(f"neurona {command}: error: "), r.err
    assert fragment in r.error_lines[0], r.err


# --- hostile files ------------------------------------------------------------------------------------------


def _npy(shape, dtype="<f4", body: bytes = b"") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body


def _zip(path: Path, members: dict, deflate: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _bomb(path: Path, nbytes: int = 128 * 2 ** 20, name: str = "x.npy") -> Path:
    """An .npz whose one array is ``nbytes`` of zeros, deflated to about a thousandth of that."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w", force_zip64=True) as m:
            m.write(_npy((nbytes,), "|u1"))
            chunk = bytes(2 ** 20)
            for _ in range(nbytes // len(chunk)):
                m.write(chunk)
    return path


def _huge_shape_model(tmp: Path, xor_model: Path) -> Path:
    """The xor model with its first weight's .npy header declaring a 10⁶ × 10⁶ array (3.6 TiB)."""
    out = tmp / "huge.npz"
    with zipfile.ZipFile(xor_model) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "weights/layers.0.weight.npy":
                data = _npy((10 ** 6, 10 ** 6), "<f4", data[128:])
            dst.writestr(info.filename, data)
    return out


def _fifo(tmp: Path, name: str) -> Path:
    p = tmp / name
    os.mkfifo(p)
    return p


def _link(tmp: Path, name: str, target) -> Path:
    p = tmp / name
    p.symlink_to(target)
    return p


def _text(tmp: Path, name: str, content) -> Path:
    p = tmp / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


MODEL_FILES = {
    "missing": (lambda t, m: t / "absent.npz", "no such model file"),
    "a folder": (lambda t, m: (t / "empty_dir").mkdir() or t / "empty_dir", "a folder without model.npz"),
    "empty": (lambda t, m: _text(t, "e.npz", b""), "the file is empty"),
    "random bytes": (lambda t, m: _text(t, "r.npz", np.random.default_rng(0).bytes(3000)), "not a neurona model"),
    "truncated": (lambda t, m: _text(t, "t.npz", m.read_bytes()[:len(m.read_bytes()) // 2]), "truncated or corrupt"),
    "pickle": (lambda t, m: _text(t, "p.npz", pickle.dumps({"w": 1})), "pickled Python objects"),
    "single .npy": (lambda t, m: (np.save(t / "s.npy", np.zeros(3)), t / "s.npy")[1], "single .npy array"),
    "huge declared shape": (_huge_shape_model, "declares shape (1000000, 1000000) of float32 (3.64 TiB)"),
    "decompression bomb": (lambda t, m: _bomb(t / "b.npz"), "refused as a decompression bomb"),
    "FIFO": (lambda t, m: _fifo(t, "f.npz"), "is a FIFO (named pipe), not a regular file"),
    "link to a FIFO": (lambda t, m: _link(t, "lf.npz", _fifo(t, "ff")), "FIFO (named pipe) (through a symbolic link)"),
    "link to a device": (lambda t, m: _link(t, "dev.npz", "/dev/zero"), "a character device (through a symbolic link)"),
}


@pytest.mark.parametrize("command", ["info", "evaluate", "predict"])
@pytest.mark.parametrize("case", list(MODEL_FILES))
def test_hostile_model_files(cli, tmp_path, xor_run, no_hang, command, case):
    build, fragment = MODEL_FILES[case]
    path = build(tmp_path, xor_run / "model.npz")
    extra = ["--input", xor_run.parent / "in.npz"] if command == "predict" else []
    np.savez(xor_run.parent / "in.npz", x=np.zeros((2, 2), np.float32))
    before = sorted(p.name for p in tmp_path.iterdir())
    start = time.perf_counter()
    r = cli(command, path, *extra)
    _one_error_line(r, command, fragment)
    assert time.perf_counter() - start < 20  # refused from what the file declares, not after reading it all
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def _csv_rows(path: Path, rows) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


DATA_FILES = {
    "binary as CSV": (lambda t: _text(t, "b.csv", b"\xff\xfe\x00\x81" * 100), "not UTF-8 text", ["--target", "y"]),
    "NUL byte": (lambda t: _text(t, "n.csv", "a,y\n1,0\n2\x00,1\n"), "row 3, column 'a': cannot read",
                 ["--target", "y"]),
    "header only": (lambda t: _text(t, "h.csv", "a,b,y\n"), "has no data rows", ["--target", "y"]),
    "huge field": (lambda t: _text(t, "f.csv", "a,y\n" + "1" * 300_000 + ",0\n"), "not a well-formed CSV",
                   ["--target", "y"]),
    "too large for float32": (lambda t: _csv_rows(t / "o.csv", [["a", "y"]] + [[1e300, 0]] * 20),
                              "too large for float32", ["--target", "y"]),
    "CSV FIFO": (lambda t: _fifo(t, "p.csv"), "FIFO (named pipe), not a regular file", ["--target", "y"]),
    "CSV link to a device": (lambda t: _link(t, "z.csv", "/dev/zero"), "a character device", ["--target", "y"]),
    "NPZ bomb": (lambda t: _bomb(t / "b.npz"), "refused as a decompression bomb", []),
    "NPZ huge shape": (lambda t: _zip(t / "h.npz", {"x.npy": _npy((2 ** 40, 3)), "y.npy": _npy((0,), "<i8")}),
                       "declares shape (1099511627776, 3)", []),
    "NPZ of objects": (lambda t: (np.savez(t / "o.npz", x=np.array([{}] * 20, dtype=object), y=np.zeros(20)),
                                  t / "o.npz")[1], "holds pickled Python objects", []),
    "NPZ random bytes": (lambda t: _text(t, "r.npz", np.random.default_rng(1).bytes(999)), "not an .npz archive", []),
    "NPZ FIFO": (lambda t: _fifo(t, "q.npz"), "FIFO (named pipe)", []),
}


@pytest.mark.parametrize("case", list(DATA_FILES))
def test_hostile_data_files(cli, tmp_path, no_hang, case):
    build, fragment, extra = DATA_FILES[case]
    path = build(tmp_path)
    r = cli("train", "--data", path, *extra, "--name", "bad", "--quiet")
    _one_error_line(r, "train", fragment)
    assert not (tmp_path / "runs" / "bad").exists() and not (tmp_path / "runs").exists()


def _png(shape=(28, 28)) -> bytes:
    pil = pytest.importorskip("PIL.Image")
    buf = pyio.BytesIO()
    pil.fromarray(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _png_bomb(path: Path, side: int = 30_000) -> Path:
    """A real PNG of side × side black pixels: 900 megapixels in under a megabyte."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = bytes(side + 1)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(2000)) + comp.flush()  # only the first rows: enough to parse
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    path.write_bytes(png)
    return path


INPUT_FILES = {
    "CSV header only": (lambda t: _text(t, "h.csv", "a,b\n"), "a header (a, b) but no data rows"),
    "text as PNG": (lambda t: _text(t, "t.png", "not an image"), "cannot read the image"),
    "truncated PNG": (lambda t: _text(t, "c.png", _png()[:60]), "cannot"),
    "PNG bomb": (lambda t: _png_bomb(t / "bomb.png"), "declares an image of 900,000,000 pixels; at most"),
    "PNG bomb under Pillow's limit": (lambda t: _png_bomb(t / "bomb2.png", 8000),
                                      "declares an image of 8000×8000 = 64,000,000 pixels; at most"),
    "PNG of another size": (lambda t: _text(t, "big.png", _png((40, 50))), "the image is 50×40 pixels"),
    "PNG FIFO": (lambda t: _fifo(t, "f.png"), "FIFO (named pipe)"),
    "PNG link to a device": (lambda t: _link(t, "d.png", "/dev/urandom"), "a character device"),
    "input NPZ bomb": (lambda t: _bomb(t / "in.npz"), "refused as a decompression bomb"),
}


@pytest.mark.parametrize("case", list(INPUT_FILES))
def test_hostile_inputs_to_predict(cli, tmp_path, image_run, no_hang, case):
    build, fragment = INPUT_FILES[case]
    path = build(tmp_path)
    start = time.perf_counter()
    r = cli("predict", image_run[0], "--input", path, "--output", "pred.csv")
    _one_error_line(r, "predict", fragment)
    assert time.perf_counter() - start < 20 and not (tmp_path / "pred.csv").exists()


# --- hostile flags ------------------------------------------------------------------------------------------

XOR = ["train", "--data", "xor", "--hidden", "4", "--epochs", "1", "--name", "f", "--quiet"]

FLAGS = [
    (["--batch-size", "0"], "argument --batch-size: expected a positive integer or 'full'", 2),
    (["--batch-size", "-5"], "argument --batch-size", 2),
    (["--clip-grad", "-1"], "argument --clip-grad: expected a number > 0, got '-1'", 2),
    (["--clip-grad", "nan"], "argument --clip-grad: expected a finite number", 2),
    (["--hidden", "0"], "--hidden: layer sizes must be >= 1, got '0' (write 'none' for no hidden layer)", 1),
    (["--hidden", ""], "--hidden: expected comma-separated sizes like 300,100 (or 'none'", 1),
    (["--hidden", "8,-2"], "layer sizes must be >= 1", 1),
    (["--hidden", "eight"], "expected comma-separated sizes", 1),
    (["--lr", "0"], "argument --lr: expected a number > 0", 2),
    (["--lr", "inf"], "argument --lr: expected a finite number", 2),
    (["--epochs", "-1"], "argument --epochs: expected a whole number >= 0", 2),
    (["--patience", "1.5"], "argument --patience: expected a whole number", 2),
    (["--dropout", "1.5"], "argument --dropout: expected a number in [0, 1)", 2),
    (["--val-split", "1"], "argument --val-split: expected a number in [0, 1)", 2),
    (["--momentum", "-0.5"], "argument --momentum", 2),
    (["--weight-decay", "-1"], "argument --weight-decay: expected a number >= 0", 2),
    (["--l2", "-0.1"], "argument --l2", 2),
    (["--samples", "0"], "argument --samples: expected a whole number >= 1", 2),
    (["--noise", "-1"], "argument --noise", 2),
    (["--seed", "-3"], "argument --seed", 2),
    (["--optimizer", "lion"], "argument --optimizer: invalid choice: 'lion'", 2),
    (["--momentum", "0.5", "--optimizer", "adam"], "--momentum applies to sgd, momentum, nesterov and rmsprop", 1),
    (["--out", "config.txt/runs"], "is a file, not a folder", 1),
    (["--name", "a/b"], "--name must be a plain folder name", 1),
    (["--model", "nosuch"], "no model named 'nosuch'", 1),
    (["--nonsense"], "unrecognized arguments: --nonsense", 2),
]


@pytest.mark.parametrize("flags, fragment, code", FLAGS, ids=[" ".join(f[0]) or "empty" for f in FLAGS])
def test_hostile_flags(cli, tmp_path, flags, fragment, code):
    (tmp_path / "config.txt").write_text("a file where a folder should be")
    argv = list(XOR)
    for i in range(0, len(flags), 2):  # a flag given here replaces the one of XOR
        if flags[i] in argv:
            j = argv.index(flags[i])
            del argv[j:j + 2]
    r = cli(*argv, *flags)
    _one_error_line(r, "train", fragment, code)
    assert not (tmp_path / "runs" / "f").exists()


OTHER_FLAGS = [
    (["predict", "{run}", "--input", "x.npz", "--top", "0"], "argument --top", 2),
    (["prune", "{run}", "--sparsity", "1.5"], "argument --sparsity: expected a number in [0, 1)", 2),
    (["prune", "{run}", "--sparsity", "0.5", "--steps", "0"], "argument --steps", 2),
    (["quantize", "{run}", "--calibration-batches", "0"], "argument --calibration-batches", 2),
    (["quantize", "{run}", "--observer", "many"], "argument --observer", 2),
    (["distill", "--teacher", "{run}", "-T", "0"], "argument -T/--temperature: expected a number > 0", 2),
    (["distill", "--teacher", "{run}", "--alpha", "2"], "argument --alpha: expected a number in [0, 1]", 2),
    (["lr-find", "--num-iter", "0"], "argument --num-iter", 2),
    (["lr-find", "--data", "xor", "--start-lr", "1", "--end-lr", "0.1"], "--end-lr (0.1) must be larger", 1),
    (["compare", "--data", "xor", "--optimizers", "sgd,lion"], "unknown optimizer 'lion'", 1),
]


@pytest.mark.parametrize("argv, fragment, code", OTHER_FLAGS, ids=[" ".join(a[0][:1] + a[0][2:]) for a in OTHER_FLAGS])
def test_hostile_flags_of_other_commands(cli, xor_run, argv, fragment, code):
    r = cli(*[str(xor_run) if a == "{run}" else a for a in argv])
    _one_error_line(r, argv[0], fragment, code)


def test_a_bug_of_ours_keeps_its_traceback(cli, monkeypatch):
    """Only what the user can fix is one line; a ValueError from our own code is not swallowed."""
    from neurona.cli import build

    def broken(*args, **kwargs):
        raise ValueError("an internal mistake")

    monkeypatch.setattr(build, "scalers", broken)
    with pytest.raises(ValueError, match="an internal mistake"):
        cli(*XOR)


# --- signals --------------------------------------------------------------------------------------------


def _signal_during_epoch(monkeypatch, epoch: int, signum: int):
    """Deliver a real ``signum`` to this process at the start of epoch ``epoch`` (from 1) of every fit, until
    the returned function is called."""
    original = loop.Trainer.train_epoch

    def train_epoch(self, loader):
        if self.epoch + 1 == epoch:
            os.kill(os.getpid(), signum)
        return original(self, loader)

    monkeypatch.setattr(loop.Trainer, "train_epoch", train_epoch)
    return lambda: monkeypatch.setattr(loop.Trainer, "train_epoch", original)


@pytest.fixture
def default_sigint():
    """SIGINT raising KeyboardInterrupt, as in a terminal. Python installs that handler only when the process
    starts with SIGINT at its default; a test run started in the background of a shell inherits it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_before_the_first_checkpoint_says_nothing_was_kept(cli, tmp_path, monkeypatch, default_sigint):
    stop = _signal_during_epoch(monkeypatch, 1, signal.SIGINT)
    r = cli(*XOR[:-1], "--epochs", 3)
    assert r.code == 130 and "Traceback" not in r.err
    assert "interrupted during epoch 1, before the first checkpoint: nothing was kept" in r.err
    assert "Start again with: neurona train --data xor --hidden 4" in r.err and "--resume" not in r.err
    assert not (tmp_path / "runs" / "f").exists()  # not even config.json
    stop()
    assert cli(*XOR).code == 0  # the same command starts again from scratch


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_after_checkpoints_says_how_to_continue(cli, tmp_path, monkeypatch, signum):
    stop = _signal_during_epoch(monkeypatch, 3, signum)
    r = cli(*XOR[:XOR.index("--epochs")], "--epochs", 4, "--name", "t", "--quiet")
    assert r.code == 128 + signum and "Traceback" not in r.err
    assert "interrupted during epoch 3; epochs 1-2 are saved in runs/t. Continue with: neurona train --resume " \
           "runs/t" in r.err
    assert io.read_model_file(tmp_path / "runs/t/checkpoint.npz").header["epoch"] == 2
    stop()
    assert cli("train", "--resume", "runs/t", "--quiet").code == 0
    assert json.loads((tmp_path / "runs/t/metrics.json").read_text())["epochs_trained"] == 4


_KILL_DURING_SAVE = r"""
import sys, time
from neurona import io
from neurona.cli import main

seen = []
def pause(name):
    seen.append(name)
    if name == "weights/layers.0.weight" and seen.count(name) == 2:  # the checkpoint of epoch 2
        print("saving", flush=True)
        time.sleep(60)                                                 # killed here, half-way
io._on_entry_written = pause
main(sys.argv[1:])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_run_killed_while_saving_is_resumed_and_its_leftovers_removed(cli, tmp_path):
    argv = ["train", "--data", "xor", "--hidden", "64,64", "--epochs", "3", "--name", "k", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-c", _KILL_DURING_SAVE, *argv], cwd=tmp_path, env=env(),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "saving"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    run = tmp_path / "runs" / "k"
    leftovers = io.stale_temporaries(run)
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".checkpoint.npz.tmp-")
    assert io.read_model_file(run / "checkpoint.npz").header["epoch"] == 1  # the previous one, intact
    r = cli("train", "--resume", run)
    assert r.code == 0 and "removed 1 temporary file(s) left in" in r.out and "resuming" in r.out
    assert io.stale_temporaries(run) == [] and (run / "model.npz").exists()
    assert cli(*argv[:-3], "--name", "k2", "--quiet").code == 0  # the same run, never interrupted
    a, b = io.read_model_file(run / "model.npz").weights, io.read_model_file(tmp_path / "runs/k2/model.npz").weights
    assert all(np.array_equal(a[k], b[k]) for k in a)


# --- pipes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["info", "{run}"], ["evaluate", "{run}"], ["predict", "{run}", "--input", "x.npz"],
                                  ["train", "--data", "xor", "--hidden", "4", "--epochs", "2", "--name", "p"]])
def test_output_to_a_closed_pipe_ends_quietly(tmp_path, xor_run, argv):
    """``neurona info RUN | head -1``: the reader goes away; the command stops quietly with status 0."""
    np.savez(tmp_path / "x.npz", x=np.zeros((30, 2), np.float32))
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line
    try:
        proc = neurona_process(*[str(xor_run) if a == "{run}" else a for a in argv], cwd=tmp_path, stdout=write,
                               stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate(timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == 0 and err == ""


def test_head_reads_the_first_line(tmp_path, xor_run):
    proc = subprocess.run(f"{shlex_quote(sys.executable)} -m neurona.cli info {shlex_quote(str(xor_run))} | head -1",
                          shell=True, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout.count("\n") == 1
    assert "neurona model file" in proc.stdout


def shlex_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


# --- disks ----------------------------------------------------------------------------------------------


def _mount_tmpfs(where: Path, *options: str) -> bool:
    """Mount a small tmpfs at ``where`` (needs root and the mount command); False where that is not possible."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)],
                          capture_output=True)
    return proc.returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A folder with ``size`` bytes of room: a real tmpfs when this runs as root, else writes that fail with
    ENOSPC past the budget (the writer patched). Yields ``make(size) -> (folder, kind)``."""
    mounted = []

    def make(size: int):
        where = tmp_path / f"disk{len(mounted)}"
        if _mount_tmpfs(where, f"size={size}", "mode=0777"):
            mounted.append(where)
            return where, "tmpfs"
        where.mkdir()
        _simulate_enospc(monkeypatch, where, size)
        return where, "simulated"

    yield make
    for where in mounted:
        _umount(where)


def _simulate_enospc(monkeypatch, folder: Path, size: int) -> None:
    """Writes under ``folder`` fail with ENOSPC once they would hold more than ``size`` bytes."""
    real_replace = os.replace

    def used() -> int:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    def replace(src, dst, *a, **k):
        if str(folder) in os.path.abspath(dst) and used() > size:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(dst))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)


def _checkpoint_size(cli, tmp_path, argv) -> int:
    assert cli(*argv, "--out", tmp_path / "probe", "--name", "probe", "--epochs", 1).code == 0
    return (tmp_path / "probe" / "probe" / "checkpoint.npz").stat().st_size


DISK_RUN = ["train", "--data", "gaussians", "--hidden", "64,64", "--quiet"]


def test_a_full_disk_before_the_first_checkpoint_leaves_nothing(cli, tmp_path, small_disk):
    size = _checkpoint_size(cli, tmp_path, DISK_RUN)
    disk, kind = small_disk(size // 2)
    r = cli(*DISK_RUN, "--epochs", 3, "--out", disk, "--name", "full")
    _one_error_line(r, "train", "no space left on the device")
    assert "Nothing was kept of the run" in r.err, kind
    assert not (disk / "full").exists()  # no config.json left behind
    assert io.stale_temporaries(disk) == []


def test_a_full_disk_later_keeps_the_last_checkpoint(cli, tmp_path, small_disk):
    size = _checkpoint_size(cli, tmp_path, DISK_RUN)
    disk, kind = small_disk(int(size * 1.6))  # room for one checkpoint, not for its successor beside it
    r = cli(*DISK_RUN, "--epochs", 4, "--out", disk, "--name", "later")
    _one_error_line(r, "train", "no space left on the device")
    assert "The checkpoint of epoch 1" in r.err and f"--resume {disk}/later" in r.err, (kind, r.err)
    assert io.read_model_file(disk / "later" / "checkpoint.npz").header["epoch"] == 1
    assert io.stale_temporaries(disk / "later") == []


def test_a_read_only_folder_is_refused_before_any_work(cli, tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    real = _mount_tmpfs(ro, "size=1m", "ro")
    try:
        if not real:  # not root: a folder without write permission says the same; as root, pretend
            ro.mkdir(exist_ok=True)
            ro.chmod(0o555)
            if os.geteuid() == 0:
                monkeypatch.setattr(os, "access", lambda p, mode: not str(p).startswith(str(ro)))
        r = cli(*XOR, "--out", ro / "runs")
        _one_error_line(r, "train", f"cannot write in {ro}")
        if real:
            assert "(a read-only file system)" in r.err
    finally:
        if real:
            _umount(ro)
        else:
            ro.chmod(0o755)


def test_predictions_to_a_full_disk(cli, tmp_path, xor_run, small_disk):
    np.savez(tmp_path / "x.npz", x=np.zeros((2000, 2), np.float32))
    disk, kind = small_disk(8192)
    r = cli("predict", xor_run, "--input", "x.npz", "--output", disk / "pred.csv")
    _one_error_line(r, "predict", "no space left on the device")
    assert not (disk / "pred.csv").exists() and io.stale_temporaries(disk) == [], kind
