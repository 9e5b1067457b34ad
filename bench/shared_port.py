"""One `callhopper serve` process that shares its port with others (``SO_REUSEPORT``).

``callhopper serve`` has no ``--workers`` option and binds its port alone, so the benchmark
runs several processes behind one port this way: each builds the same app as ``serve``
(same settings, same pool, same background jobs, same collector tuning, same uvicorn
options) and serves it on a socket bound with ``SO_REUSEPORT``, and the kernel spreads new
connections over the processes. Used by ``dispense_bench --open-loop`` on PostgreSQL.

    python -m bench.shared_port --port 8161    # CALLHOPPER_DATABASE_URL from the environment
"""

from __future__ import annotations

import argparse
import socket
import sys


def main(argv: list[str]) -> None:
    import uvicorn

    from callhopper.api.app import create_app
    from callhopper.cli import server_options, tune_collector
    from callhopper.cli_common import open_database, settings_from

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = settings_from(None, port=args.port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, args.port))
    with open_database(settings) as db:
        app = create_app(settings, db, background=settings.run_workers)
        tune_collector()
        config = uvicorn.Config(app, **server_options(settings))
        uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
