"""The online scoring API under load, on loopback: `python -m serving` started on the
pipeline's published snapshot with bearer tokens on (a token file made for the run), then
`python -m serving.loadtest` sending a fixed request rate with a `score` token (open loop: latency
counts from each request's scheduled time). Both share this machine's 2 cores."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ml.loopback import free_port, stop
from serving.tokens import add_token

READY_TIMEOUT_S = 120
RATE_PER_S = 500
SECONDS = 20


def wait_ready(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the API exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the API was not ready within {READY_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def load_test(
    env: dict[str, str], work_dir: Path, rate: float = RATE_PER_S, seconds: float = SECONDS
) -> dict:
    """Start the API, wait for /readyz, run the load test, stop the API; the load test's figures."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    tokens_file = work_dir / "serving_tokens.yml"
    token = add_token(tokens_file, "bench", ["score"])
    env = {**env, "SERVE_LOG_DIR": str(work_dir / "serving_log"), "SERVE_TOKENS_FILE": str(tokens_file)}
    server_log, output = work_dir / "serving_api.log", work_dir / "serving_load.json"
    output.unlink(missing_ok=True)
    command = [sys.executable, "-m", "serving", "--port", str(port), "--log-level", "warning"]
    with server_log.open("w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(url, server, server_log)
            loadtest = [sys.executable, "-m", "serving.loadtest", "--url", url]
            loadtest += ["--rate", str(rate), "--seconds", str(seconds), "--json", str(output)]
            # the token through the environment, not the command line (`ps` shows arguments)
            subprocess.run(loadtest, env={**env, "SERVE_TOKEN": token}, check=True, timeout=seconds + 300)
        finally:
            stop([server], timeout_s=30)
    return json.loads(output.read_text())
