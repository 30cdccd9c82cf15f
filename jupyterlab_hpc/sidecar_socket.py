"""The sidecar's unix socket: one per Jupyter server process.

Both the proxy route (proxy.py, loaded with jupyter-server-proxy) and the
server extension that starts the sidecar (extension.py) ask for it, in
whichever order Jupyter loads them; the first call makes it.
"""

import atexit
import os
import shutil
import tempfile

# sun_path holds 108 bytes on Linux and 104 on macOS.
MAX_SOCKET_PATH_BYTES = 100

_socket_path = None


def sidecar_socket_path():
    """``<mkdtemp 0700>/sidecar.sock``; the directory goes at exit."""
    global _socket_path
    if _socket_path is None:
        directory = tempfile.mkdtemp(prefix="jupyterlab-hpc-")
        path = os.path.join(directory, "sidecar.sock")
        if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
            # A long $TMPDIR (macOS puts it under /var/folders/...): /tmp is short.
            shutil.rmtree(directory, ignore_errors=True)
            directory = tempfile.mkdtemp(prefix="jupyterlab-hpc-", dir="/tmp")
            path = os.path.join(directory, "sidecar.sock")
        atexit.register(remove_socket_dir, directory)
        _socket_path = path
    return _socket_path


def remove_socket_dir(directory=None):
    """Remove the socket's directory (and the socket in it), if made."""
    if directory is None:
        if _socket_path is None:
            return
        directory = os.path.dirname(_socket_path)
    shutil.rmtree(directory, ignore_errors=True)
