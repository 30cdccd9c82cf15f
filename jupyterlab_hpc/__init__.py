"""jupyterlab-hpc: SLURM clusters from the JupyterLab on your laptop.

The Python package carries the prebuilt JupyterLab extension and the bundled
Node sidecar, and runs the parts that live in the Jupyter server: the server
extension that owns the sidecar (``extension.py``), the jupyter-server-proxy
route to it (``proxy.py``) and the kernel provisioner of cluster kernels
(``provisioner.py``).
"""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0-dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-hpc"}]


def _jupyter_server_extension_points():
    from .extension import SidecarExtension

    return [{"module": "jupyterlab_hpc.extension", "app": SidecarExtension}]
