"""The sidecar's route in jupyter-server-proxy: ``<base_url>jupyterlab-hpc/``.

Registered as the ``jupyterlab-hpc`` entry point of the
``jupyter_serverproxy_servers`` group (pyproject.toml); the entry point's
name is the route (SIDECAR_NAME in src/common/api.ts). An entry point merges
with a user's or admin's own ``ServerProxy.servers`` instead of being replaced
by it, and it works from any Jupyter config layout; a ``ServerProxy.servers``
block under ``jupyter_server_config.d/`` would be silently ignored.

The route only proxies. The jupyterlab_hpc server extension (extension.py)
starts and supervises the sidecar, because the kernel provisioner needs it
too, before any browser request reaches this route. An empty command with a
socket path makes jupyter-server-proxy use its NamedLocalProxyHandler (HTTP
and WebSockets, no process of its own).
"""

# bench/lib/runtime.mjs asks this module which node the product uses.
from .node_runtime import NODE_ENV_VAR, SidecarNotFound, node_executable  # noqa: F401
from .sidecar_socket import sidecar_socket_path


def setup_sidecar():
    return {
        "command": [],
        # In a fresh 0700 directory: only this user can connect, so Jupyter's
        # authentication in front of the proxy is the only way in.
        "unix_socket": sidecar_socket_path(),
        "absolute_url": False,
        "new_browser_tab": False,
        "launcher_entry": {"enabled": False},
    }
