"""Runs localstripe for the integration test, bound to 127.0.0.1 only (its own CLI binds every interface).

Usage: python localstripe_server.py PORT. localstripe saves its whole store to the fixed path
/tmp/localstripe.pickle after every write, which parallel runs would share and overwrite; this launcher starts from
an empty store and turns that saving off, so each run keeps its state in memory only.
"""

import sys

from aiohttp import web
from localstripe import resources
from localstripe.server import app


def main() -> None:
    resources.Store.dump_to_disk = lambda self: None
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
