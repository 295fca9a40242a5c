"""The explorer's server listens on loopback only unless asked otherwise."""

import shutil
import socket
import subprocess
import time

import psutil
import pytest

pytest.importorskip("panel")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_explorer_listens_on_127_0_0_1_only():
    port = _free_port()
    proc = subprocess.Popen([shutil.which("theorylab"), "explore", "--no-show", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line, line
        deadline, sockets = time.monotonic() + 60, []
        while not sockets and time.monotonic() < deadline:
            sockets = [c.laddr for c in psutil.Process(proc.pid).net_connections(kind="inet")
                       if c.status == psutil.CONN_LISTEN]
            time.sleep(0.2)
        assert sockets and all(a.ip == "127.0.0.1" for a in sockets), sockets
        assert port in {a.port for a in sockets}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
