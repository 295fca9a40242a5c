"""The ``theorylab`` command (also ``python -m theorylab``).

Loading the command's libraries takes seconds; a Ctrl-C or SIGTERM meanwhile is held and
answered with one line, instead of a traceback from whichever import it interrupted.
"""

from __future__ import annotations

import signal
import sys


def main() -> int:
    received: list[int] = []
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in watched}
    try:
        from theorylab import cli
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        print("theorylab: interrupted while starting; nothing was run", file=sys.stderr)
        return 128 + received[0]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
