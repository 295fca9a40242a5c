"""Ctrl-C and SIGTERM during a command: recorded, raised where it is safe, never lost.

Python raises a signal's exception wherever the main thread happens to be, and three
places break that: inside netCDF I/O it can leave xarray's file lock held, so the
cleanup that follows waits on it forever; inside a compiled kernel's calls back into
Python it turns into a SystemError traceback; inside a destructor (a file handle closed
by the garbage collector) it is printed and dropped, and a sweep would go on as if never
stopped.  So the handler records every signal; I/O runs in :func:`deferred` sections
that raise when they end; a task run in this process runs in a :func:`finishing`
section, after which the sweep caches it and stops; and sweeps call
:func:`stop_if_signalled` between tasks.  A second signal always raises at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Any, Iterator

received: list[int] = []   # signals seen since the command began, in order
_sections: list[str] = []  # open sections that hold signals back; "" for I/O, else a notice


def _handler(signum: int, frame: Any) -> None:
    received.append(signum)
    if not _sections or len(received) > 1:
        raise KeyboardInterrupt()
    notice = next((n for n in reversed(_sections) if n), "")
    if notice:  # os.write: print() may be mid-call in the interrupted code
        os.write(sys.stderr.fileno(), f"theorylab: {notice}; interrupt again to stop at once\n".encode())


@contextlib.contextmanager
def handled() -> Iterator[list[int]]:
    """Record Ctrl-C and SIGTERM for the duration of a command and raise both as
    KeyboardInterrupt, so they unwind alike (locks released, temporary files removed).
    Yields the list of signals received; it is emptied on entry and on exit."""
    received.clear()
    if threading.current_thread() is not threading.main_thread():
        yield received   # signal handlers can only be set in the main thread
        return
    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        received.clear()


@contextlib.contextmanager
def held(notice: str = "") -> Iterator[None]:
    """A step the first signal lets finish (a task computed in this process, a cluster starting);
    the signal is recorded, ``notice`` (if any) printed as one line, and the caller checks
    :func:`stop_if_signalled` once the step's result is kept or cleaned up."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are handled in the main thread; other threads' sections do not hold them
        return
    _sections.append(notice)
    try:
        yield
    finally:
        _sections.pop()


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A short section a signal must not cut (file I/O): a signal arriving inside it is
    raised as KeyboardInterrupt when the outermost section ends."""
    with held():
        yield
    if not _sections and threading.current_thread() is threading.main_thread():
        stop_if_signalled()


def stop_if_signalled() -> None:
    """Raise KeyboardInterrupt if a signal was received (its own exception may have been lost)."""
    if received:
        raise KeyboardInterrupt()
