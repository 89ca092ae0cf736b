"""Requests raced against each other, as an outside client fires them: each in a thread of its own (with its own
database connection), all released at the same moment."""

import threading
from collections.abc import Callable


def at_once(calls: list[Callable]) -> list:
    """Run every call at the same moment; what each returned (or raised), in order."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int, call: Callable) -> None:
        from django.db import connections

        start.wait()
        try:
            results[index] = call()
        except Exception as error:  # returned, so the test can say which ones failed and how
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
