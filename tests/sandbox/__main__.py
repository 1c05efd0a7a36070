"""``python -m tests.sandbox``: serve the five APIs on loopback until interrupted.

The first line on stdout is one JSON object mapping each platform to its base URL and an admin
credential, so scripts can read it and point modules at the sandbox.
"""
import argparse
import json
import signal
import sys
import threading

from . import Sandbox
from .tls import make_certificates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sandbox", description=__doc__)
    parser.add_argument("--no-demo", action="store_true", help="start empty, without demo data")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds added to every request")
    parser.add_argument("--tls", metavar="DIR",
                        help="serve HTTPS with a certificate from a test CA written to DIR "
                             "(DIR/ca.pem is what clients trust, e.g. SSL_CERT_FILE for gh)")
    args = parser.parse_args(argv)

    tls = make_certificates(args.tls).server_pair if args.tls else False
    sandbox = Sandbox(demo=not args.no_demo, latency=args.latency, tls=tls).start()
    print(json.dumps(sandbox.endpoints()), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
