"""The kernel provisioner of cluster kernels (``jupyterlab-hpc``).

Jupyter's KernelManager runs one instance per kernel (and keeps it across
restarts). The kernel itself runs as a job step on a cluster node, started
by the sidecar; this class holds the kernel's *lease*: one WebSocket to the
sidecar's ``Routes.kernelLease`` over its unix socket. Messages are JSON
text frames shaped as ``LeaseRequest`` (sent) and ``LeaseReply`` (received)
in src/common/kernels.ts: change both together.

The order in which Jupyter calls us, and why the methods behave as they do,
is in docs/research/cluster-kernels-in-jupyter.md (section 1).
"""

import asyncio
import json
import os
import signal
import socket
import time

from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from tornado.httpclient import HTTPRequest
from tornado.netutil import Resolver
from tornado.websocket import WebSocketClosedError, websocket_connect
from traitlets import Unicode

from . import extension

LEASE_PROTOCOL_VERSION = 2
LEASE_ROUTE = "/api/v1/kernel-lease"
#: REQUEST_HEADER in src/common/api.ts.
REQUEST_HEADER = "X-Jupyterlab-Hpc"
CONNECT_TIMEOUT = 30

SIGNAL_NAMES = {
    signal.SIGINT: "SIGINT",
    signal.SIGTERM: "SIGTERM",
    signal.SIGKILL: "SIGKILL",
}

SIDECAR_GONE = "The jupyterlab-hpc sidecar stopped, and the cluster kernel with it."

#: How long a kernel whose sidecar went away tries to be taken up by a new
#: one. Its relay waits longer (RELAY_LINGER_SECONDS in lease.ts).
RESUME_SECONDS = 60


class UnixResolver(Resolver):
    """Every host name resolves to the sidecar's unix socket."""

    def initialize(self, socket_path):
        self.socket_path = socket_path

    async def resolve(self, host, port, family=socket.AF_UNSPEC):
        return [(socket.AF_UNIX, self.socket_path)]


class LeaseError(RuntimeError):
    pass


class Lease:
    """One kernel's WebSocket to the sidecar."""

    def __init__(self, connection, sidecar_id):
        self._connection = connection
        #: The sidecar instance (its `hello`): a new one has none of our kernels.
        self.sidecar_id = sidecar_id
        self.closed = False

    @classmethod
    async def open(cls, socket_path):
        # No Origin header: the sidecar refuses browsers on this route.
        request = HTTPRequest(
            "ws://localhost" + LEASE_ROUTE,
            headers={REQUEST_HEADER: "1"},
            connect_timeout=CONNECT_TIMEOUT,
        )
        try:
            connection = await websocket_connect(
                request, resolver=UnixResolver(socket_path=socket_path)
            )
        except Exception as err:
            raise LeaseError(
                f"The jupyterlab-hpc sidecar refused the kernel's connection: {err}"
            ) from err
        lease = cls(connection, None)
        try:
            hello = await asyncio.wait_for(lease.receive(), CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            hello = None
        if hello is None or hello.get("type") != "hello":
            lease.close()
            raise LeaseError("The jupyterlab-hpc sidecar did not greet the kernel's connection.")
        if hello.get("version") != LEASE_PROTOCOL_VERSION:
            lease.close()
            raise LeaseError(
                f"The jupyterlab-hpc sidecar speaks lease protocol {hello.get('version')}, "
                f"this Jupyter server {LEASE_PROTOCOL_VERSION}: restart the Jupyter server."
            )
        lease.sidecar_id = hello.get("sidecar")
        return lease

    async def send(self, message):
        """False when the socket is closed (never raises)."""
        if self.closed:
            return False
        try:
            await self._connection.write_message(json.dumps(message))
            return True
        except WebSocketClosedError:
            self.closed = True
            return False

    async def receive(self):
        """The next reply as a dict, or None once the socket is closed."""
        while not self.closed:
            raw = await self._connection.read_message()
            if raw is None:
                self.closed = True
                return None
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if isinstance(message, dict):
                return message
        return None

    def close(self):
        self.closed = True
        self._connection.close()


class ClusterProvisioner(KernelProvisionerBase):
    """Runs a kernel through the sidecar's lease instead of a local process."""

    profile = Unicode(
        "",
        config=True,
        help="The id of the kernel profile (metadata.kernel_provisioner.config.profile).",
    )

    def __init__(self, **kwargs):
        # Keys of metadata.kernel_provisioner.config that are not ours come in
        # as kwargs too: a newer sidecar may write more, so ignore them.
        unknown = [k for k in kwargs if not self.class_traits().get(k) and k != "parent"]
        for key in unknown:
            kwargs.pop(key)
        super().__init__(**kwargs)
        if unknown:
            self.log.debug("jupyterlab-hpc provisioner: ignoring config %s", unknown)
        self._lease = None
        self._reader = None
        #: Replies for launch_kernel while it waits; None otherwise.
        self._replies = None
        self._started = False
        self._launches = 0
        self._exit_code = None
        self._exit_reason = None
        self._fatal = False
        self._stop_code = None
        self._notebook_path = None
        #: What `started` said: how a new sidecar finds the kernel again.
        self._started_reply = None
        self._resuming = None

    # --- what Jupyter asks ---

    @property
    def has_process(self):
        return self._started

    async def poll(self):
        if not self._started:
            return 0
        if self._exit_code is None:
            return None
        if self._fatal:
            self._give_up_restarts()
        return self._exit_code

    async def wait(self):
        while await self.poll() is None:
            await asyncio.sleep(0.1)
        code = self._exit_code if self._exit_code is not None else 0
        self._started = False
        return code

    async def send_signal(self, signum):
        # Never raise: a restart or shutdown interrupts first, and a raise on a
        # dead kernel leaves it hanging in "restarting".
        name = SIGNAL_NAMES.get(signum)
        if name is None:
            if signum != 0:
                self.log.warning("jupyterlab-hpc: signal %s is not sent to cluster kernels", signum)
            return
        if self._alive():
            await self._lease.send({"type": "signal", "signal": name})

    async def kill(self, restart=False):
        # `restart` is False even inside a restart (research 1.3): only
        # cleanup() knows, so this only ends the kernel's step.
        await self._stop(-signal.SIGKILL)

    async def terminate(self, restart=False):
        await self._stop(-signal.SIGTERM)

    async def pre_launch(self, **kwargs):
        kwargs = await super().pre_launch(**kwargs)
        env = kwargs.get("env") or {}
        self._notebook_path = self._relative_to_root(env.get("JPY_SESSION_NAME"))
        # Nothing runs locally; the KernelManager only wants a cmd. The local
        # environment is not sent to the cluster.
        kwargs["cmd"] = list(self.kernel_spec.argv or [])
        return kwargs

    async def launch_kernel(self, cmd, **kwargs):
        self._exit_code = None
        self._exit_reason = None
        self._fatal = False
        self._stop_code = None
        restart = self._launches > 0
        replies = asyncio.Queue()
        self._replies = replies
        try:
            lease = await self._open_lease()
            session = self.parent.session
            sent = await lease.send(
                {
                    "type": "start",
                    "version": LEASE_PROTOCOL_VERSION,
                    "kernelId": self.kernel_id,
                    "profile": self.profile,
                    # The key travels only here, never in argv, env or files.
                    "key": session.key.decode(),
                    "signatureScheme": session.signature_scheme,
                    "notebookPath": self._notebook_path,
                    "restart": restart,
                }
            )
            if not sent:
                raise RuntimeError(SIDECAR_GONE)
            started = await self._wait_for_start(replies)
        except BaseException:
            # The sidecar then cancels whatever it had started for us.
            await self._close_lease(release=True)
            raise
        finally:
            self._replies = None
        c = started["connection"]
        info = {
            "transport": "tcp",
            "ip": "127.0.0.1",
            "shell_port": int(c["shell_port"]),
            "iopub_port": int(c["iopub_port"]),
            "stdin_port": int(c["stdin_port"]),
            "control_port": int(c["control_port"]),
            "hb_port": int(c["hb_port"]),
            "signature_scheme": c.get("signature_scheme") or session.signature_scheme,
            # Bytes, as the KernelManager's own: a str fails its comparison.
            "key": session.key,
        }
        self.connection_info = info
        self._started_reply = started
        self._launches += 1
        self._started = True
        self.log.info(
            "jupyterlab-hpc: kernel %s runs on %s (job %s, step %s)",
            self.kernel_id,
            started.get("node"),
            started.get("jobId"),
            started.get("stepId"),
        )
        return info

    async def cleanup(self, restart=False):
        self._started = False
        self._stop_resuming()
        if not restart:
            # The kernel is gone for good: the allocation may start its grace.
            await self._close_lease(release=True)

    def get_shutdown_wait_time(self, recommended=5.0):
        # Shutdown replies come back through the relay and an SSH hop.
        return max(recommended, 8.0)

    def get_stable_start_time(self, recommended=10.0):
        return 5.0

    # --- the lease ---

    def _alive(self):
        return (
            self._started
            and self._exit_code is None
            and self._lease is not None
            and not self._lease.closed
        )

    async def _stop(self, code):
        if self._resuming is not None:
            # Nothing to stop through: the next sidecar ends what is left.
            self._stop_resuming()
            self._exit_code = code
            return
        if self._alive():
            self._stop_code = code
            await self._lease.send({"type": "stop"})

    async def _open_lease(self):
        if self._lease is not None and not self._lease.closed:
            return self._lease
        try:
            path = await extension.ensure_sidecar()
        except extension.SidecarUnavailable as err:
            raise RuntimeError(str(err)) from err
        except Exception as err:
            raise RuntimeError(f"The jupyterlab-hpc sidecar did not start: {err}") from err
        try:
            lease = await Lease.open(path)
        except LeaseError as err:
            raise RuntimeError(str(err)) from err
        self._lease = lease
        self._reader = asyncio.ensure_future(self._read(lease))
        return lease

    async def _close_lease(self, release):
        lease, self._lease = self._lease, None
        if lease is None:
            return
        if release:
            await lease.send({"type": "release"})
        lease.close()

    async def _wait_for_start(self, replies):
        while True:
            reply = await replies.get()
            kind = reply.get("type")
            if kind == "progress":
                self.log.info(
                    "jupyterlab-hpc: kernel %s %s%s",
                    self.kernel_id,
                    reply.get("state"),
                    f": {reply['reason']}" if reply.get("reason") else "",
                )
            elif kind == "started":
                return reply
            elif kind in ("failed", "error"):
                raise RuntimeError(reply.get("message") or "The cluster kernel did not start.")
            elif kind == "exited":
                raise RuntimeError(reply.get("reason") or "The cluster kernel ended while starting.")
            elif kind == "closed":
                raise RuntimeError(SIDECAR_GONE)

    async def _read(self, lease):
        while True:
            try:
                reply = await lease.receive()
            except Exception as err:  # a broken connection is a closed one
                self.log.debug("jupyterlab-hpc: lease read failed: %s", err)
                lease.closed = True
                reply = None
            if lease is not self._lease:
                return  # released or replaced: its news is not ours any more
            if reply is None:
                self._on_closed()
                return
            self._on_reply(reply)

    def _on_reply(self, reply):
        kind = reply.get("type")
        launching = self._replies is not None
        if kind in ("progress", "started", "failed"):
            if launching:
                self._replies.put_nowait(reply)
        elif kind == "exited":
            if launching:
                # A late word about the step a restart replaced is no news;
                # a lost allocation fails the start.
                if reply.get("fatal"):
                    self._replies.put_nowait(reply)
                return
            code = reply.get("exitCode")
            self._exit_code = code if isinstance(code, int) else 1
            self._exit_reason = reply.get("reason") or None
            self._fatal = bool(reply.get("fatal"))
            self.log.warning(
                "jupyterlab-hpc: kernel %s ended%s: %s",
                self.kernel_id,
                " for good" if self._fatal else "",
                self._exit_reason,
            )
        elif kind == "stopped":
            if not launching and self._started and self._exit_code is None:
                self._exit_code = self._stop_code if self._stop_code is not None else 0
        elif kind == "error":
            self.log.warning("jupyterlab-hpc: the sidecar says: %s", reply.get("message"))
            if launching:
                self._replies.put_nowait(reply)

    def _on_closed(self):
        self._lease = None
        if self._replies is not None:
            self._replies.put_nowait({"type": "closed"})
        elif self._started and self._exit_code is None:
            relay = (self._started_reply or {}).get("relay")
            if relay and self._resuming is None:
                # The relay outlives the sidecar: a new one takes the kernel up.
                self.log.warning(
                    "jupyterlab-hpc: kernel %s: the sidecar went away; taking the kernel up again",
                    self.kernel_id,
                )
                self._resuming = asyncio.ensure_future(self._resume())
            elif not relay:
                # A relay attached to the sidecar's channel died with it.
                self._declare_gone(SIDECAR_GONE)

    def _declare_gone(self, reason):
        self._exit_code = 1
        self._exit_reason = reason
        self._fatal = True
        self.log.warning("jupyterlab-hpc: kernel %s: %s", self.kernel_id, reason)

    def _stop_resuming(self):
        task, self._resuming = self._resuming, None
        if task is not None and not task.done():
            task.cancel()

    async def _resume(self):
        """Ask a new sidecar to take the running kernel up again, for a while.

        The kernel counts as alive meanwhile (poll() says so); the server's
        clients reconnect to the same local ports once the relay is linked.
        """
        started = self._started_reply
        c = started["connection"]
        deadline = time.monotonic() + RESUME_SECONDS
        reason = SIDECAR_GONE
        try:
            while time.monotonic() < deadline:
                try:
                    lease = await self._open_lease()
                except Exception as err:  # not up yet: the server starts a new one
                    self.log.debug("jupyterlab-hpc: no sidecar yet: %s", err)
                    await asyncio.sleep(1)
                    continue
                replies = asyncio.Queue()
                self._replies = replies
                sent = await lease.send(
                    {
                        "type": "resume",
                        "version": LEASE_PROTOCOL_VERSION,
                        "kernelId": self.kernel_id,
                        "profile": self.profile,
                        "notebookPath": self._notebook_path,
                        "jobId": started["jobId"],
                        "relay": started["relay"],
                        "connection": c,
                    }
                )
                try:
                    if not sent:
                        raise RuntimeError(SIDECAR_GONE)
                    again = await self._wait_for_start(replies)
                except RuntimeError as err:
                    self._replies = None
                    await self._close_lease(release=False)
                    if str(err) != SIDECAR_GONE:
                        # The new sidecar answered: the kernel cannot be taken up.
                        reason = (
                            "The jupyterlab-hpc sidecar stopped, and the one started "
                            f"after it could not take the cluster kernel up again: {err}"
                        )
                        break
                    await asyncio.sleep(1)
                    continue
                self._replies = None
                self._started_reply = {**started, **again}
                self.log.info(
                    "jupyterlab-hpc: kernel %s taken up again on %s (job %s, step %s)",
                    self.kernel_id,
                    again.get("node"),
                    again.get("jobId"),
                    again.get("stepId"),
                )
                return
            if self._started and self._exit_code is None:
                self._declare_gone(reason)
        finally:
            if self._resuming is asyncio.current_task():
                self._resuming = None

    def _give_up_restarts(self):
        """Make Jupyter report the kernel dead, with the reason, at once.

        An auto-restart cannot succeed (the allocation is gone) and would hang
        in "restarting" (research 1.6). The restarter has no public switch:
        `restart_limit` of its private `_restarter` is what works.
        """
        parent = self.parent
        if parent is None:
            return
        if self._exit_reason:
            try:
                parent.reason = self._exit_reason
            except Exception:  # a KernelManager without the trait
                pass
        restarter = getattr(parent, "_restarter", None)
        if restarter is not None and hasattr(restarter, "restart_limit"):
            restarter.restart_limit = 0
        elif restarter is None and getattr(parent, "autorestart", False):
            self.log.warning(
                "jupyterlab-hpc: cannot stop the auto-restart of kernel %s", self.kernel_id
            )

    def _relative_to_root(self, path):
        """The notebook's path relative to the server's root_dir, or None."""
        if not path:
            return None
        root = None
        obj = self.parent
        while obj is not None and root is None:
            value = getattr(obj, "root_dir", None)
            if isinstance(value, str) and value:
                root = value
            obj = getattr(obj, "parent", None)
        if not os.path.isabs(path):
            return path.replace(os.sep, "/")
        if root is None:
            return None
        root = os.path.realpath(root)
        full = os.path.realpath(path)
        try:
            if os.path.commonpath([root, full]) != root:
                return None
        except ValueError:
            return None
        return os.path.relpath(full, root).replace(os.sep, "/")
