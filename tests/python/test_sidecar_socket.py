"""Where the sidecar listens: one private socket per Jupyter server process."""

import os
import stat

from jupyterlab_hpc import proxy, sidecar_socket


def test_the_socket_is_in_a_fresh_private_directory_that_goes_away(monkeypatch):
    monkeypatch.setattr(sidecar_socket, "_socket_path", None)
    path = sidecar_socket.sidecar_socket_path()
    directory = os.path.dirname(path)
    try:
        assert os.path.basename(path) == "sidecar.sock"
        assert os.path.basename(directory).startswith("jupyterlab-hpc-")
        assert len(os.fsencode(path)) <= sidecar_socket.MAX_SOCKET_PATH_BYTES
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        # The proxy route and the extension get the same one.
        assert sidecar_socket.sidecar_socket_path() == path
        assert proxy.setup_sidecar()["unix_socket"] == path
    finally:
        sidecar_socket.remove_socket_dir()
    assert not os.path.exists(directory)


def test_a_long_tmpdir_falls_back_to_tmp(monkeypatch, tmp_path):
    long_dir = tmp_path / ("x" * 90)
    long_dir.mkdir()
    monkeypatch.setenv("TMPDIR", str(long_dir))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setattr(sidecar_socket, "_socket_path", None)
    path = sidecar_socket.sidecar_socket_path()
    try:
        assert path.startswith("/tmp/jupyterlab-hpc-")
    finally:
        sidecar_socket.remove_socket_dir()


def test_the_proxy_route_supervises_nothing():
    config = proxy.setup_sidecar()
    # An empty command with a socket path: NamedLocalProxyHandler, no process.
    assert config["command"] == []
    assert isinstance(config["unix_socket"], str)
