"""jupyterlab-hpc: SLURM clusters from the JupyterLab on your laptop.

The Python package only carries files: the prebuilt JupyterLab extension,
the bundled Node sidecar and the jupyter-server-proxy entry point that starts
it (see ``proxy.py``).
"""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0-dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-hpc"}]
