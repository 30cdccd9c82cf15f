"""SidecarOwner: starts the sidecar once, again after it died, and stops it.

The process below it is replaced by a small Python program that does what
the sidecar does at this boundary: listen on the unix socket it is given and
answer GET /api/v1/health (the integration test sidecar-owner.test.ts runs
the real one inside a real Jupyter server).
"""

import asyncio
import logging
import os
import signal
import sys

import pytest

from jupyterlab_hpc import extension
from jupyterlab_hpc.extension import SidecarOwner, SidecarUnavailable

FAKE = r"""
import http.server, os, socketserver, sys
path, starts = sys.argv[1], sys.argv[2]
with open(starts, "a") as f:
    f.write(f"{os.getpid()}\n")
if os.environ.get("FAKE_CRASH"):
    sys.exit(3)

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/v1/health" else 404)
        self.end_headers()
    def log_message(self, *a):
        pass
    def address_string(self):
        return "unix"

if os.path.exists(path):
    os.unlink(path)
socketserver.UnixStreamServer(path, Health).serve_forever()
"""


@pytest.fixture
def owner_for(tmp_path):
    def make(env=None, ready_timeout=10):
        directory = tmp_path / "sock"
        directory.mkdir(mode=0o700, exist_ok=True)
        socket_path = str(directory / "sidecar.sock")
        script = tmp_path / "fake_sidecar.py"
        script.write_text(FAKE)
        starts = tmp_path / "starts"
        starts.touch()
        owner = SidecarOwner(
            socket_path,
            logging.getLogger("test"),
            env or {},
            command=[sys.executable, str(script), socket_path, str(starts)],
            ready_timeout=ready_timeout,
        )
        owner.starts = lambda: starts.read_text().split()
        return owner

    return make


def alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


async def test_it_starts_once_and_answers(owner_for):
    owner = owner_for()
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        assert await owner.ensure() == owner.socket_path
        assert await extension.health_answers(owner.socket_path)
        assert await owner.ensure() == owner.socket_path
        assert len(owner.starts()) == 1
        # simpervisor's own handlers (forward, then sys.exit) are not left in place.
        assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers
    finally:
        await owner.stop()


async def test_the_sidecar_gets_none_of_the_servers_credentials(owner_for, monkeypatch):
    # As Docker images and JupyterHub start a server: its token in the environment.
    for name in extension.SERVER_SECRETS:
        monkeypatch.setenv(name, f"secret-{name}")
    monkeypatch.setenv("JLHPC_KEPT", "kept")
    owner = owner_for(env={"JUPYTERLAB_HPC_PYTHON": sys.executable})
    try:
        await owner.ensure()
        with open(f"/proc/{owner.pid}/environ", "rb") as f:
            environ = dict(
                item.decode().split("=", 1) for item in f.read().split(b"\0") if item
            )
        assert [n for n in extension.SERVER_SECRETS if n in environ] == []
        assert "secret-" not in "".join(environ.values())
        assert environ["JLHPC_KEPT"] == "kept"
        assert environ["JUPYTERLAB_HPC_PYTHON"] == sys.executable
    finally:
        await owner.stop()


async def test_a_killed_sidecar_is_started_again(owner_for):
    owner = owner_for()
    try:
        await owner.ensure()
        [first] = owner.starts()
        os.kill(int(first), signal.SIGKILL)
        for _ in range(100):
            if len(owner.starts()) == 2:
                break
            await asyncio.sleep(0.05)
        assert await owner.ensure() == owner.socket_path
        assert len(owner.starts()) == 2
        assert owner.pid == int(owner.starts()[1])
    finally:
        await owner.stop()


async def test_a_sidecar_that_cannot_start_is_retried_with_pauses_not_in_a_loop(owner_for):
    owner = owner_for(env={"FAKE_CRASH": "1"}, ready_timeout=3)
    try:
        with pytest.raises(SidecarUnavailable, match="did not answer within 3 s"):
            await owner.ensure()
        # 0.5 + 1 + 2 s of pauses fit in 3 s: at most 4 starts, not hundreds.
        assert 2 <= len(owner.starts()) <= 4
    finally:
        await owner.stop()
    settled = len(owner.starts())
    await asyncio.sleep(1.5)
    assert len(owner.starts()) == settled  # stopped means stopped


async def test_stop_ends_it_for_good(owner_for):
    owner = owner_for()
    await owner.ensure()
    [pid] = owner.starts()
    await owner.stop()
    assert not alive(pid)
    await asyncio.sleep(0.5)
    assert len(owner.starts()) == 1
    with pytest.raises(SidecarUnavailable, match="stopping"):
        await owner.ensure()


async def test_without_the_extension_ensure_sidecar_says_what_to_do(monkeypatch):
    monkeypatch.setattr(extension, "_owner", None)
    with pytest.raises(SidecarUnavailable, match="jupyter server extension enable jupyterlab_hpc"):
        await extension.ensure_sidecar()
