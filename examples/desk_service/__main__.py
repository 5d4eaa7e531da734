"""``python -m examples.desk_service [--host H] [--port P] [--latency-ms N]``."""

from __future__ import annotations

import argparse

from aiohttp import web

from examples.desk_service.service import create_app


def main() -> None:
    """Serve the desk until interrupted."""
    parser = argparse.ArgumentParser(description="The incident desk example tool service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    web.run_app(create_app(args.latency_ms / 1000), host=args.host, port=args.port, print=None)


main()
