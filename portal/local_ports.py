"""Ports for the servers our measuring commands start on this machine (gunicorn, valkey): loopback only."""

import socket


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
