"""`python -m serving --host 127.0.0.1 --port 8000`: the API under uvicorn, one worker (the
feature state lives in the process: a second worker would hold a second, diverging copy).

Any address but loopback needs bearer tokens configured (SERVE_TOKENS_FILE or SERVE_TOKENS,
serving/auth.py): without them the server refuses to start and says why."""

from __future__ import annotations

import argparse
import ipaddress
import logging

import uvicorn

from serving.app import create_app
from serving.settings import ServingSettings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ServingSettings.from_env()
    if not is_loopback(args.host) and settings.tokens_file is None and settings.tokens_inline is None:
        parser.exit(
            2,
            f"python -m serving: refusing to listen on {args.host}: anyone who can reach it could score "
            "payments. Configure bearer tokens (SERVE_TOKENS_FILE; `python -m serving.tokens new` makes "
            "one) or listen on loopback (--host 127.0.0.1).\n",
        )
    app = create_app(settings)
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
