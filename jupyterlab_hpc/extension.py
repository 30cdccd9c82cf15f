"""The jupyterlab_hpc server extension: it owns the Node sidecar.

One sidecar per Jupyter server, on the unix socket of sidecar_socket.py. It
is started as soon as the server runs, restarted when it dies, and stopped
(its socket directory removed) when the server stops. Two callers need it:
jupyter-server-proxy's route for the browser (proxy.py, proxy only) and the
kernel provisioner (provisioner.py), which calls ``ensure_sidecar()``.
"""

import asyncio
import os
import signal
import sys
import time

from jupyter_core.paths import jupyter_data_dir, jupyter_path
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from simpervisor import SupervisedProcess

from .node_runtime import sidecar_command
from .sidecar_socket import remove_socket_dir, sidecar_socket_path

#: The proxy route's name, `<base_url>jupyterlab-hpc/` (SIDECAR_NAME in
#: src/common/api.ts): the name of our jupyter_serverproxy_servers entry point.
SIDECAR_NAME = "jupyterlab-hpc"

#: Seconds the sidecar gets to answer its health route after a start.
READY_TIMEOUT = 30
#: Seconds between SIGTERM and SIGKILL when the server stops.
STOP_TIMEOUT = 5
#: A sidecar that lived this long before dying is restarted at once; one that
#: died sooner waits 0.5 s, then twice as long each time, at most MAX_BACKOFF.
STABLE_SECONDS = 30
MAX_BACKOFF = 30


#: The Jupyter server's own credentials, which every process it starts would
#: inherit. The sidecar needs none of them (requests reach it authenticated,
#: over its private socket), and would hand them on to each ssh, ProxyCommand
#: and askpass helper it runs, and to the Slurm jobs it starts on this
#: computer (srun exports the environment).
SERVER_SECRETS = ("JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN")


class SidecarUnavailable(RuntimeError):
    pass


def sidecar_process_environment(base, extra):
    """The server's environment without its credentials, plus ``extra``."""
    env = {k: v for k, v in base.items() if k not in SERVER_SECRETS}
    env.update(extra)
    return env


async def health_answers(socket_path):
    """True when the sidecar answers ``GET /api/v1/health`` with 200."""
    try:
        reader, writer = await asyncio.open_unix_connection(socket_path)
    except OSError:
        return False
    try:
        writer.write(
            b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        status = (await reader.readline()).split()
        return len(status) >= 2 and status[0].startswith(b"HTTP/") and status[1] == b"200"
    except OSError:
        return False
    finally:
        writer.close()


def _signal_handlers():
    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(saved):
    try:
        for signum, handler in saved.items():
            if signal.getsignal(signum) is not handler and handler is not None:
                signal.signal(signum, handler)
    except ValueError:  # not the main thread: simpervisor could not set them either
        pass


class SidecarProcess(SupervisedProcess):
    """simpervisor's supervisor, with two changes.

    - It waits before restarting a sidecar that died young, so a sidecar
      that cannot start does not spin the server's CPU.
    - It leaves the server's SIGINT/SIGTERM handlers in place. simpervisor
      replaces them with its own, which forwards the signal and calls
      sys.exit() at once: the server would skip its clean stop (shutting
      kernels down, our stop_extension). We stop the sidecar ourselves.
    """

    def __init__(self, *cmd, log, **kwargs):
        super().__init__("jupyterlab-hpc sidecar", *cmd, log=log, **kwargs)
        self.stopped = False
        self._started_at = None
        self._backoff = 0.0
        self._restarting = False

    async def start(self):
        if self.stopped:
            return
        if self.proc is not None and self.proc.returncode is not None:
            if self._restarting:
                return  # a restart is already waiting out its backoff
            self._restarting = True
            try:
                await self._wait_before_restart()
            finally:
                self._restarting = False
            if self.stopped:
                return
        self._started_at = time.monotonic()
        saved = _signal_handlers()
        try:
            await super().start()
        finally:
            _restore_signal_handlers(saved)

    async def _wait_before_restart(self):
        lived = time.monotonic() - (self._started_at or 0)
        if lived >= STABLE_SECONDS:
            self._backoff = 0.0
        else:
            self._backoff = min(max(self._backoff * 2, 0.5), MAX_BACKOFF)
        self.log.warning(
            "jupyterlab-hpc: the sidecar exited with code %s after %.0f s; "
            "starting it again%s",
            self.proc.returncode,
            lived,
            f" in {self._backoff:g} s" if self._backoff else "",
        )
        if self._backoff:
            await asyncio.sleep(self._backoff)

    async def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; never restarted again."""
        self.stopped = True
        if not self.running:
            return
        ending = asyncio.ensure_future(self.terminate())
        try:
            await asyncio.wait_for(asyncio.shield(ending), STOP_TIMEOUT)
        except asyncio.TimeoutError:
            self.log.warning("jupyterlab-hpc: the sidecar ignored SIGTERM; killing it")
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            await ending
        except ProcessLookupError:
            pass


class SidecarOwner:
    """Starts the sidecar once, again after it died, and stops it for good."""

    def __init__(self, socket_path, log, environment, command=None, ready_timeout=READY_TIMEOUT):
        self.socket_path = socket_path
        self.log = log
        self.environment = environment
        #: The sidecar's argv (tests give their own); default: the bundled one.
        self.command = command
        self.ready_timeout = ready_timeout
        self._lock = asyncio.Lock()
        self._process = None
        self._stopped = False
        #: The pid of the sidecar that last passed the health check.
        self._ready_pid = None

    @property
    def pid(self):
        p = self._process
        return p.pid if p is not None and p.proc is not None else None

    async def _ready(self, _process):
        return await health_answers(self.socket_path)

    async def ensure(self):
        """The socket path, once the sidecar answers on it."""
        process = self._process
        # Every proxied request comes here: no health check while the
        # process that answered one is still the one running.
        if (
            not self._stopped
            and process is not None
            and process.running
            and process.pid == self._ready_pid
        ):
            return self.socket_path
        async with self._lock:
            if self._stopped:
                raise SidecarUnavailable("The Jupyter server is stopping.")
            if self._process is None:
                self._process = SidecarProcess(
                    *(self.command or sidecar_command(self.socket_path)),
                    log=self.log,
                    env=sidecar_process_environment(os.environ, self.environment),
                    stdin=asyncio.subprocess.DEVNULL,
                    ready_func=self._ready,
                    ready_timeout=self.ready_timeout,
                )
            if not self._process.running:
                await self._process.start()
            if not await self._process.ready():
                raise SidecarUnavailable(
                    f"The jupyterlab-hpc sidecar did not answer within {self.ready_timeout:g} s. "
                    'Look in the Jupyter server log for lines starting with "[jupyterlab-hpc sidecar]".'
                )
            self._ready_pid = self._process.pid
            return self.socket_path

    async def stop(self):
        # Not under the lock: ensure() may be waiting up to READY_TIMEOUT.
        self._stopped = True
        if self._process is not None:
            await self._process.stop()


_owner = None


async def ensure_sidecar():
    """The sidecar's socket path, once it answers (started or restarted if needed).

    Raises SidecarUnavailable when this server does not run the extension or
    the sidecar cannot start.
    """
    if _owner is None:
        raise SidecarUnavailable(
            "The jupyterlab_hpc server extension is not enabled in this Jupyter server: "
            "reinstall jupyterlab-hpc with pip, or enable it with "
            "`jupyter server extension enable jupyterlab_hpc`."
        )
    return await _owner.ensure()


def sidecar_environment():
    return {
        # Where this Jupyter server reads kernelspecs: registered kernels go
        # to the first (the user's), and every one is looked at.
        "JUPYTERLAB_HPC_JUPYTER_DATA_DIR": jupyter_data_dir(),
        "JUPYTERLAB_HPC_KERNEL_PATH": os.pathsep.join(jupyter_path("kernels")),
        # The Python of this server: cluster kernelspecs' fallback argv.
        "JUPYTERLAB_HPC_PYTHON": sys.executable,
    }


def make_proxy_route_wait(web_app, base_url, route_name, log):
    """Make jupyter-server-proxy's route to the sidecar wait until it answers.

    With an empty command the route only proxies: a request that comes just
    after the server started, or while the sidecar restarts, would get a 500
    "connection refused". Its handler class gets one step in front, as
    jupyter-server-proxy's own supervised routes have: ``ensure_sidecar()``.
    Returns how many routing rules were changed (0: no such route).
    """
    changed = 0
    # As jupyter-server-proxy's make_handlers writes it (tornado adds the $).
    pattern = url_path_join(base_url, route_name, r"(.*)")

    def visit(router):
        nonlocal changed
        for rule in getattr(router, "rules", []):
            target = rule.target
            if isinstance(target, type):
                regex = getattr(rule.matcher, "regex", None)
                if (
                    regex is not None
                    and regex.pattern.rstrip("$") == pattern
                    and hasattr(target, "proxy")
                ):
                    if not getattr(target, "waits_for_sidecar", False):
                        rule.target = _waiting_for_sidecar(target, log)
                    changed += 1
            else:
                visit(target)

    visit(web_app.default_router)
    visit(web_app.wildcard_router)
    return changed


def _waiting_for_sidecar(proxy_handler, log):
    async def wait():
        try:
            await ensure_sidecar()
        except Exception as err:  # the proxy then answers with its own error
            log.warning("jupyterlab-hpc: proxying to a sidecar that is not ready: %s", err)

    class WaitsForSidecar(proxy_handler):
        waits_for_sidecar = True

        async def proxy(self, *args, **kwargs):
            await wait()
            return await super().proxy(*args, **kwargs)

        async def open(self, *args, **kwargs):
            await wait()
            return await super().open(*args, **kwargs)

    WaitsForSidecar.__name__ = proxy_handler.__name__
    return WaitsForSidecar


class SidecarExtension(ExtensionApp):
    """An ExtensionApp only for its stop hook: plain extensions get none."""

    name = "jupyterlab_hpc"
    load_other_extensions = True

    def initialize_settings(self):
        global _owner
        _owner = SidecarOwner(sidecar_socket_path(), self.log, sidecar_environment())
        self._starting = None
        # jupyter_server_proxy loads before us (extensions load in name order).
        self._route_waits = self._make_route_wait()

    def _make_route_wait(self):
        web_app = self.serverapp.web_app
        base_url = web_app.settings.get("base_url", "/")
        return make_proxy_route_wait(web_app, base_url, SIDECAR_NAME, self.log) > 0

    async def _start_jupyter_server_extension(self, serverapp):
        # The proxy route starts nothing any more, so start it now, without
        # holding up the other extensions.
        self._starting = asyncio.ensure_future(self._start())
        if not self._route_waits and not self._make_route_wait():
            self.log.info("jupyterlab-hpc: no jupyter-server-proxy route to the sidecar")

    async def _start(self):
        try:
            await ensure_sidecar()
            self.log.info("jupyterlab-hpc: sidecar ready (pid %s)", _owner.pid)
        except Exception as err:  # logged; the next ensure_sidecar() tries again
            self.log.error("jupyterlab-hpc: the sidecar did not start: %s", err)

    async def stop_extension(self):
        global _owner
        owner = _owner
        if owner is not None:
            await owner.stop()
        remove_socket_dir()
