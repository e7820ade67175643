"""Redraws docs/img/fraud-path.png: the fraud model's path through the asset graph, groups expanded,
as the Dagster UI draws it. With `make dev` running (or any `dagster dev` on this project):

    .venv/bin/python docs/img/fraud_path.py --port 3000

Drives a headless Chromium over the DevTools protocol: opens the lineage view on the path's assets,
hides the navigation and the asset tree, expands every group (the UI's Alt+E) and takes the picture.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import websockets

PATH = [
    "landing_payments/payments",
    "staging/base_payments__payments",
    "staging/stg_payments__payments",
    "marts/fct_payments",
    "features/feat_payment_fraud",
    "ml/payment_fraud_model",
    "ml/payment_fraud_scores",
    "staging/stg_ml__payment_fraud_scores",
    "marts/fraud_review_queue",
    "publish/analytics_duckdb",
]
WIDTH, HEIGHT = 1600, 900
DEBUG_PORT = 9333
SETTLE_SECONDS = 12  # the UI loads the graph and lays it out


def lineage_url(port: int) -> str:
    selection = " or ".join(f'key:"{key}"' for key in PATH)
    return f"http://127.0.0.1:{port}/asset-groups~" + urllib.parse.quote(selection, safe="")


def page_socket() -> str:
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{DEBUG_PORT}/json") as response:
                return next(t for t in json.load(response) if t["type"] == "page")["webSocketDebuggerUrl"]
        except (OSError, StopIteration):
            time.sleep(0.2)
    raise RuntimeError("headless Chromium did not open its DevTools port")


async def draw(url: str, out: Path) -> None:
    async with websockets.connect(page_socket(), max_size=50_000_000) as socket:
        ids = itertools.count(1)

        async def call(method: str, **params) -> dict:
            sent = next(ids)
            await socket.send(json.dumps({"id": sent, "method": method, "params": params}))
            while True:
                message = json.loads(await socket.recv())
                if message.get("id") == sent:
                    return message.get("result", {})

        async def click(x: int, y: int) -> None:
            for kind in ("mousePressed", "mouseReleased"):
                await call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
            await asyncio.sleep(1.5)

        await call(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        await call("Page.navigate", url=url)
        await asyncio.sleep(SETTLE_SECONDS)
        await click(101, HEIGHT - 105)  # "Hide navigation"
        await click(340, 79)  # the asset tree's toggle
        for kind in ("rawKeyDown", "keyUp"):  # Alt+E: expand every group
            await call(
                "Input.dispatchKeyEvent",
                type=kind,
                modifiers=1,
                key="e",
                code="KeyE",
                windowsVirtualKeyCode=69,
            )
        await asyncio.sleep(6)
        shot = await call("Page.captureScreenshot", format="png")
        out.write_bytes(base64.b64decode(shot["data"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3000, help="where dagster dev serves the UI")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("fraud-path.png"))
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs Chromium (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile: the UI keeps expanded groups in it
        process = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--remote-debugging-port={DEBUG_PORT}", f"--user-data-dir={profile}",
             f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            asyncio.run(draw(lineage_url(args.port), args.out))
        finally:
            process.kill()
            process.wait()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
