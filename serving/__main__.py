"""`python -m serving --host 127.0.0.1 --port 8000`: the API under uvicorn, one worker (the
feature state lives in the process: a second worker would hold a second, diverging copy)."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from serving.app import create_app
from serving.settings import ServingSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(ServingSettings.from_env())
    # uvloop and httptools (installed, uvicorn's defaults when present); no access log (the audit
    # log has every request) and no proxy-header rewriting (nothing proxies a loopback service)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        log_level=args.log_level,
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
