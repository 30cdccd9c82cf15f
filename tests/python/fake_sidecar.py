"""A stand-in for the sidecar's lease route, for the provisioner's tests.

It is the boundary below the provisioner and nothing more: a tornado
WebSocket server on a unix socket that speaks LeaseRequest/LeaseReply
(src/common/kernels.ts). Each test scripts what it answers. By default a
`start` is answered with a `progress` (queued) and then `started`, with the
connection of a REAL ipykernel it launches on this machine with the key of
the `start` message, as the relay would on a compute node.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys

from jupyter_client.connect import write_connection_file
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_unix_socket
from tornado.web import Application
from tornado.websocket import WebSocketHandler


class LocalKernel:
    """An ipykernel started with the key the provisioner sent."""

    def __init__(self, directory, key, signature_scheme):
        self.file, self.info = write_connection_file(
            os.path.join(directory, f"kernel-{os.urandom(4).hex()}.json"),
            ip="127.0.0.1",
            key=key.encode(),
            transport="tcp",
            signature_scheme=signature_scheme,
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ipykernel_launcher", "-f", self.file],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def connection(self):
        keys = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
        c = {k: self.info[k] for k in keys}
        return {
            "transport": "tcp",
            "ip": "127.0.0.1",
            "signature_scheme": self.info["signature_scheme"],
            **c,
        }

    def signal(self, signum):
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


class LeaseSocket(WebSocketHandler):
    def initialize(self, fake):
        self.fake = fake

    def check_origin(self, origin):
        return True  # recorded below; the provisioner must send none

    def open(self):
        self.fake.sockets.append(self)
        self.fake.headers.append(dict(self.request.headers))
        self.write_message(
            json.dumps({"type": "hello", "version": self.fake.version, "sidecar": self.fake.sidecar_id})
        )

    def on_message(self, message):
        msg = json.loads(message)
        self.fake.received.append((self, msg))
        asyncio.ensure_future(self.fake.handle(self, msg))

    def on_close(self):
        self.fake.closed.append(self)
        if not self.fake.detached:
            self.fake.stop_kernels()

    def reply(self, message):
        self.write_message(json.dumps(message))


class FakeSidecar:
    def __init__(self, directory):
        self.directory = str(directory)
        self.socket_path = os.path.join(self.directory, "sidecar.sock")
        self.sidecar_id = "sidecar-1"
        self.version = 2
        #: Relays outlive a lease (as detached ones do): `started` names one,
        #: and a closed socket leaves the kernel running.
        self.detached = False
        self.sockets = []
        self.headers = []
        self.received = []
        self.closed = []
        self.kernels = []
        #: async (socket, start message) -> None; the default starts a kernel.
        self.on_start = self.start_kernel
        #: async (socket, resume message) -> None; the default takes it up.
        self.on_resume = self.resume_kernel
        self._server = None

    async def __aenter__(self):
        app = Application([(r"/api/v1/kernel-lease", LeaseSocket, {"fake": self})])
        self._server = HTTPServer(app)
        self._server.add_sockets([bind_unix_socket(self.socket_path, mode=0o600)])
        return self

    async def __aexit__(self, *exc):
        for s in list(self.sockets):
            s.close()
        self._server.stop()
        self.stop_kernels()

    def messages(self, kind=None):
        return [m for _, m in self.received if kind is None or m.get("type") == kind]

    async def wait_for(self, what, predicate, timeout=20):
        for _ in range(int(timeout / 0.05)):
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    @property
    def kernel(self):
        return self.kernels[-1]

    def stop_kernels(self):
        for k in self.kernels:
            k.stop()

    async def handle(self, ws, msg):
        kind = msg["type"]
        if kind == "start":
            await self.on_start(ws, msg)
        elif kind == "resume":
            await self.on_resume(ws, msg)
        elif kind == "signal":
            if self.kernels:
                self.kernel.signal(getattr(signal, msg["signal"]))
        elif kind == "stop":
            if self.kernels:
                self.kernel.stop()
            ws.reply({"type": "stopped"})
        elif kind == "release":
            self.stop_kernels()

    async def start_kernel(self, ws, msg):
        ws.reply(
            {
                "type": "progress",
                "state": "queued",
                "jobId": "42",
                "reason": "Priority",
                "estimatedStart": None,
            }
        )
        kernel = LocalKernel(self.directory, msg["key"], msg["signatureScheme"])
        self.kernels.append(kernel)
        ws.reply(
            {
                "type": "started",
                "connection": kernel.connection(),
                "allocationId": "a1",
                "jobId": "42",
                "node": "c1",
                "stepId": f"42.{len(self.kernels) - 1}",
                "relay": self.relay_handle() if self.detached else None,
            }
        )

    @staticmethod
    def relay_handle():
        return {"dir": "/home/u/.jupyterlab-hpc/relays/r.abc123", "pid": 4242}

    async def resume_kernel(self, ws, msg):
        ws.reply(
            {
                "type": "started",
                "connection": msg["connection"],
                "allocationId": "a1",
                "jobId": msg["jobId"],
                "node": "c1",
                "stepId": f"42.{len(self.kernels) - 1}",
                "relay": msg["relay"],
            }
        )
