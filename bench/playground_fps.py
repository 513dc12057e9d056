"""Frames per second of the playground page and training steps per second behind it, in headless Chromium.

    python bench/playground_fps.py [--seconds 20] [--screenshot docs/playground.png]

Starts ``neurona playground`` on a free port, opens the page in headless
Chromium (Debian's ``chromium``, or NEURONA_CHROMIUM), sets up an 8×8 network
(8 hidden layers of 8 neurons) on 500 points of the spiral, presses play and
reads, once a second, the frames the page drew in the last second and the
training steps per second the server reports. Prints the median and range of
both. The browser and the server share the machine's cores, as on a laptop.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SETUP = ("dataset=spiral&points=500&hidden=8,8,8,8,8,8,8,8&activation=tanh&optimizer=adam&lr=0.003&batch=10"
         "&features=x1,x2,sinx1,sinx2")
# the README's picture: a smaller network, the test points shown and one point's values and deltas
PICTURE = ("dataset=spiral&points=500&noise=5&hidden=6,6,4&activation=tanh&optimizer=adam&lr=0.01&batch=10"
           "&features=x1,x2,sinx1,sinx2")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _shrink(path: str) -> None:
    """A 256-colour PNG: the page's flat colours survive, the file is a third of the size."""
    try:
        from PIL import Image
    except ImportError:
        return
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--screenshot", help="save a screenshot of the page after the run (PNG)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("NEURONA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("no Chromium found: apt-get install chromium, or set NEURONA_CHROMIUM", file=sys.stderr)
        return 1
    load_before = os.getloadavg()[0]
    server = subprocess.Popen([sys.executable, "-m", "neurona.playground", "--port", "0", "--no-browser"],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True, args=ARGS,
                                                       viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            page.goto(url + "#" + SETUP)
            while page.text_content("[data-testid=layer-count]") != "8 hidden layers":
                time.sleep(0.1)
            page.click("[data-testid=play]")
            time.sleep(2)  # warm-up
            fps, sps = [], []
            for _ in range(args.seconds):
                time.sleep(1)
                fps.append(int(page.text_content("[data-testid=fps]")))
                sps.append(int(page.text_content("[data-testid=steps-per-second]")))
            epoch = page.text_content("[data-testid=epoch]")
            loss = page.text_content("[data-testid=test-loss]")
            if args.screenshot:
                page.click("[data-testid=play]")
                page.goto(url + "#" + PICTURE)
                page.reload()
                while page.text_content("[data-testid=layer-count]") != "3 hidden layers":
                    time.sleep(0.1)
                page.click("[data-testid=play]")
                time.sleep(8)
                page.check("[data-testid=show-test]")
                page.locator("[data-testid=boundary]").click(position={"x": 300, "y": 140})
                time.sleep(2)
                page.screenshot(path=args.screenshot, full_page=False)
                _shrink(args.screenshot)
            ctx.close()
    finally:
        server.terminate()
        server.wait()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine)")
    print(f"setup: {SETUP}")
    print(f"frames per second drawn by the page: median {statistics.median(fps):g} (range {min(fps)}-{max(fps)})")
    print(f"training steps per second: median {statistics.median(sps):g} (range {min(sps)}-{max(sps)})")
    print(f"after {args.seconds + 2} s: epoch {epoch}, test loss {loss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
