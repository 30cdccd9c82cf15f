# The node side of a cluster kernel: started by the sidecar as a job step
# (`srun --overlap --jobid J -n1 -u <env>/bin/python -c <this>`), it starts
# the kernel on Unix sockets in a 0700 directory and carries each of the
# sidecar's connections to the kernel's ports as a stream of frames.
#
# The frames go over the step's stdin and stdout, which Slurm forwards, or —
# once the sidecar proves it knows the one-time token this relay sent it in
# HELLO over that stdout — over a TCP connection the sidecar opens to this
# relay through the cluster's SSH connection (the "link"). Slurm's I/O path
# holds each small write for a delayed ACK (40 ms a round trip, measured);
# the link does not. A connection that does not send the token within a few
# seconds is closed without a byte; the listener closes once the link is up,
# or as soon as the sidecar speaks on stdin (it could not reach the node).
# Stdin stays the relay's life line either way: at its end the relay ends.
#
# Detached (`-c <this> detach <linger seconds>`, started in the background
# by relay-launch.sh): no stdin, and HELLO is one JSON line on stdout, which
# the launcher keeps in an owner-only file on the login node. The link is
# the only path for frames and the listener stays open: a sidecar that lost
# the link (a cut connection, a restart) links again with the same token and
# finds the kernel as it was (LINKED says what runs). Streams in flight are
# cut; Jupyter's clients connect again. With no link for <linger> seconds the
# relay stops the kernel and ends.
# Standard library only (Python 3.6 and later); the frame format is
# described in relay-protocol.ts, whose numbers these are.
import binascii
import hmac
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

VERSION = 2
HEADER = struct.Struct(">BII")
MAX_PAYLOAD = 256 * 1024
WINDOW = 1024 * 1024
OPEN, DATA, CLOSE, CREDIT = 1, 2, 3, 4
HELLO, START, STARTED, EXITED, SIGNAL, SHUTDOWN, ERROR, LINKED, PAD = 16, 17, 18, 19, 20, 21, 22, 23, 24
CHANNELS = ("shell", "iopub", "stdin", "control", "hb")
KILL_GRACE = 3.0
READY_TIMEOUT = 120
TOKEN_BYTES = 32
AUTH_TIMEOUT = 5.0
MAX_UNPROVEN = 8

# ipykernel, with ROUTER_HANDOVER on its ROUTER sockets (shell, control,
# stdin). A client that connects again after a cut (a new link, a new
# sidecar) comes back under the same ZMQ identity, often before the kernel
# has seen its old connection close; without handover the ROUTER ignores the
# newcomer and the client waits for replies forever (measured: every client
# kept across a change of sidecar). Otherwise what `-m ipykernel_launcher`
# does.
KERNEL_LAUNCHER = """
import sys
if sys.path and sys.path[0] == "":
    del sys.path[0]
import zmq
if hasattr(zmq, "ROUTER_HANDOVER"):
    _socket = zmq.Context.socket
    def _handover(self, kind, *args, **kwargs):
        s = _socket(self, kind, *args, **kwargs)
        if kind == zmq.ROUTER:
            s.setsockopt(zmq.ROUTER_HANDOVER, 1)
        return s
    zmq.Context.socket = _handover
sys.argv[0] = "ipykernel_launcher"
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""

OUT = 1  # frames only; everything else goes to stderr
sys.stdout = sys.stderr
DETACHED = len(sys.argv) > 1 and sys.argv[1] == "detach"
LINGER = float(sys.argv[2]) if DETACHED and len(sys.argv) > 2 else 300.0


# Frames of one turn of the loop go out in one write. Slurm carries our
# stdout on a TCP socket with Nagle's algorithm: a small write made while an
# earlier one is not yet acknowledged waits for srun's delayed ACK (40 ms),
# and a kernel answers a request with several small messages a few ms apart
# (status busy, execute_input, execute_reply, status idle). So after a quiet
# spell, when the first write would go out at once and the rest wait, the
# first one is held for GATHER seconds to take the rest along: measured on
# the demo cluster, cells run 200 ms apart answered in 8.9 ms median / 16 ms
# p90 instead of 9.7 / 58 ms. In a busy exchange nothing is held (Nagle
# holds it anyway). On the link nothing is held.
pending = []
MARKER_REACH = 64  # longer than the command runner's end marker
GATHER = 0.004
QUIET = 0.05
link = []  # the link's socket once it is up: frames go there, not to stdout


def send(kind, stream, payload=b""):
    pending.append(HEADER.pack(kind, stream, len(payload)) + payload)


def flush():
    if not pending:
        return
    data = b"".join(pending)
    del pending[:]
    if link:
        try:
            link[0].sendall(data)
            return
        except OSError:
            return  # the link is gone; Relay.link_lost falls back to stdout
    if DETACHED:
        return  # no link now: LINKED tells the next one what it missed
    if b"#" in data[-MARKER_REACH:]:
        # The sidecar's command runner holds back an end of output that
        # could be the start of its end marker ("##jlhpc:<nonce>:end:") until
        # more output comes: a kernel's answer would wait for the next one.
        data += HEADER.pack(PAD, 0, 0)
    view = memoryview(data)
    while view:
        view = view[os.write(OUT, view):]


def quickack(sock):
    # sshd writes to its end of the link without TCP_NODELAY: answer each of
    # its writes at once, so that its next one does not wait for our ACK.
    if hasattr(socket, "TCP_QUICKACK"):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except OSError:
            pass


def send_json(kind, body):
    send(kind, 0, json.dumps(body).encode("utf-8"))


class Stream(object):
    def __init__(self, sid, sock):
        self.sid = sid
        self.sock = sock
        self.credit = WINDOW  # bytes we may still send to the sidecar
        self.consumed = 0  # written to the kernel, not yet given back as credit
        self.out = bytearray()  # from the sidecar, not yet written to the kernel
        self.closing = False  # the sidecar closed it: close once `out` is written


class Relay(object):
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.inbuf = bytearray()
        self.streams = {}
        self.kernel = None
        self.dir = None
        self.done = False
        self.starting = None  # (deadline, ports) until the kernel listens
        self.ipc = None  # the kernel's socket path prefix when it uses ipc
        self.listener = None  # waits for the sidecar's link connection
        self.token = None
        self.unproven = {}  # connection -> (deadline, bytes received)
        self.linkbuf = bytearray()
        self.started = None  # STARTED's body while the kernel runs
        self.exited = None  # EXITED's body of the last kernel
        self.orphaned_at = time.time()  # detached: since when no link
        self.exit_status = 0

    # -- streams --------------------------------------------------------
    def watch(self, st):
        events = 0
        if st.credit > 0 and not st.closing:
            events |= selectors.EVENT_READ
        if st.out:
            events |= selectors.EVENT_WRITE
        try:
            key = self.sel.get_key(st.sock)
        except KeyError:
            key = None
        if key is None and events:
            self.sel.register(st.sock, events, st)
        elif key is not None and not events:
            self.sel.unregister(st.sock)
        elif key is not None and key.events != events:
            self.sel.modify(st.sock, events, st)

    def drop(self, st, reason=None):
        if self.streams.pop(st.sid, None) is None:
            return
        try:
            self.sel.unregister(st.sock)
        except (KeyError, ValueError):
            pass
        st.sock.close()
        if reason is not None:
            send(CLOSE, st.sid, reason.encode("utf-8"))

    def open_stream(self, sid, payload):
        port = struct.unpack(">H", payload)[0]
        try:
            sock = connect_kernel(self.ipc, port)
        except OSError as e:
            send(CLOSE, sid, ("connect to the kernel's port %d: %s" % (port, e)).encode("utf-8"))
            return
        sock.setblocking(False)
        st = Stream(sid, sock)
        self.streams[sid] = st
        self.watch(st)

    def from_kernel(self, st):
        try:
            data = st.sock.recv(min(st.credit, MAX_PAYLOAD))
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.drop(st, str(e))
            return
        if not data:
            self.drop(st, "")
            return
        st.credit -= len(data)
        send(DATA, st.sid, data)
        self.watch(st)

    def to_kernel(self, st):
        try:
            n = st.sock.send(st.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.drop(st, str(e))
            return
        del st.out[:n]
        # Credit goes back in large steps only: no extra frame per message.
        st.consumed += n
        if st.consumed >= WINDOW // 2:
            send(CREDIT, st.sid, struct.pack(">I", st.consumed))
            st.consumed = 0
        if not st.out and st.closing:
            self.drop(st)
            return
        self.watch(st)

    # -- frames from the sidecar ------------------------------------------
    def on_frame(self, kind, sid, payload):
        if kind == DATA:
            st = self.streams.get(sid)
            if st is not None:
                st.out += payload
                self.watch(st)
            # else: closed here meanwhile; the sidecar has had our Close
        elif kind == OPEN:
            self.open_stream(sid, payload)
        elif kind == CLOSE:
            st = self.streams.get(sid)
            if st is not None:
                st.closing = True
                if not st.out:
                    self.drop(st)
                else:
                    self.watch(st)
        elif kind == CREDIT:
            st = self.streams.get(sid)
            if st is not None:
                st.credit += struct.unpack(">I", payload)[0]
                self.watch(st)
        elif kind == START:
            self.start_kernel(json.loads(payload.decode("utf-8")))
        elif kind == SIGNAL:
            self.signal_kernel(int(json.loads(payload.decode("utf-8"))["signal"]))
        elif kind == SHUTDOWN:
            self.done = True
        else:
            send_json(ERROR, {"message": "unknown frame type %d" % kind})

    def read_stdin(self):
        data = os.read(0, 1 << 18)
        if not data:
            self.done = True  # the sidecar is gone
            return
        if self.listener is not None:
            self.close_listener()  # the sidecar could not reach us: stdio it is
        self.feed(self.inbuf, data)

    def feed(self, buf, data):
        buf += data
        while len(buf) >= HEADER.size and not self.done:
            kind, sid, length = HEADER.unpack_from(buf)
            if length > MAX_PAYLOAD:
                sys.stderr.write("relay: bad frame length %d\n" % length)
                self.done = True
                return
            end = HEADER.size + length
            if len(buf) < end:
                break
            payload = bytes(buf[HEADER.size:end])
            del buf[:end]
            self.on_frame(kind, sid, payload)

    # -- the link -----------------------------------------------------------
    def open_listener(self):
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("0.0.0.0", 0))
            sock.listen(MAX_UNPROVEN)
            sock.setblocking(False)
        except OSError as e:
            sys.stderr.write("relay: no link, stdio only: %s\n" % e)
            return None
        self.listener = sock
        self.token = binascii.hexlify(os.urandom(TOKEN_BYTES))
        self.sel.register(sock, selectors.EVENT_READ, "listen")
        return {"port": sock.getsockname()[1], "token": self.token.decode("ascii")}

    def close_listener(self):
        for conn in list(self.unproven):
            self.refuse(conn)
        if self.listener is not None:
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
        self.token = None

    def accept(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        if len(self.unproven) >= MAX_UNPROVEN:
            # The oldest goes, not the newcomer: someone else on the cluster
            # holding connections open cannot keep the sidecar out.
            oldest = min(self.unproven, key=lambda c: self.unproven[c][0])
            self.refuse(oldest)
        conn.setblocking(False)
        self.unproven[conn] = (time.time() + AUTH_TIMEOUT, b"")
        self.sel.register(conn, selectors.EVENT_READ, "unproven")

    def refuse(self, conn):
        self.unproven.pop(conn, None)
        try:
            self.sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def prove(self, conn):
        deadline, got = self.unproven[conn]
        try:
            data = conn.recv(len(self.token) - len(got))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.refuse(conn)
            return
        got += data
        if len(got) < len(self.token):
            self.unproven[conn] = (deadline, got)
            return
        if not hmac.compare_digest(got, self.token):
            self.refuse(conn)
            return
        del self.unproven[conn]
        if DETACHED:
            if link:
                self.link_lost()  # a sidecar that lost it comes back: the new one wins
        else:
            self.close_listener()
        conn.setblocking(True)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sel.modify(conn, selectors.EVENT_READ, "link")
        flush()  # anything queued for stdout goes there first
        link.append(conn)
        self.orphaned_at = None
        if DETACHED:
            send_json(LINKED, {"started": self.started, "exited": self.exited,
                               "starting": self.starting is not None})
        else:
            send(LINKED, 0)

    def expire_unproven(self):
        now = time.time()
        for conn, (deadline, _) in list(self.unproven.items()):
            if now > deadline:
                self.refuse(conn)

    def read_link(self):
        sock = link[0]
        try:
            data = sock.recv(1 << 18)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.link_lost()
            return
        quickack(sock)
        self.feed(self.linkbuf, data)

    def link_lost(self):
        # Back to stdout. Frames in flight are lost, so every stream is
        # closed: the client connects again, as it would to a restarted port.
        sock = link.pop()
        del pending[:]
        try:
            self.sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()
        del self.linkbuf[:]
        for st in list(self.streams.values()):
            self.drop(st, "the relay's link closed")
        if DETACHED:
            self.orphaned_at = time.time()
            sys.stderr.write("relay: the link closed; waiting %d s for the sidecar\n" % LINGER)
        else:
            sys.stderr.write("relay: the link closed; back to stdio\n")

    # -- the kernel -------------------------------------------------------
    def start_kernel(self, req):
        if self.starting or (self.kernel is not None and self.kernel.poll() is None):
            send_json(ERROR, {"message": "a kernel is already running"})
            return
        try:
            if self.dir is None:
                self.dir = tempfile.mkdtemp(prefix="jlhpc-kernel-")  # 0700
            path = os.path.join(self.dir, "kernel.json")
            if req.get("transport", "ipc") == "ipc":
                # Unix sockets in our 0700 directory: not even other users
                # of the same node can connect (they can to 127.0.0.1).
                self.ipc = os.path.join(self.dir, "kernel")
                ports = list(range(1, len(CHANNELS) + 1))
                for port in ports:
                    if os.path.exists("%s-%d" % (self.ipc, port)):
                        os.unlink("%s-%d" % (self.ipc, port))
                ip, transport = self.ipc, "ipc"
            else:
                self.ipc = None
                ports = free_ports(len(CHANNELS))
                ip, transport = "127.0.0.1", "tcp"
            info = {"ip": ip, "transport": transport, "key": req["key"],
                    "signature_scheme": req.get("signature_scheme", "hmac-sha256")}
            for name, port in zip(CHANNELS, ports):
                info[name + "_port"] = port
            if os.path.exists(path):
                os.unlink(path)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(info, f)
            argv = req.get("argv") or [sys.executable, "-c", KERNEL_LAUNCHER,
                                       "-f", "{connection_file}"]
            argv = [a.replace("{connection_file}", path) for a in argv]
            env = dict(os.environ)
            env.update(req.get("env") or {})
            # The kernel's own stdout must not mix with our frames.
            self.kernel = subprocess.Popen(
                argv, cwd=req.get("cwd") or None, env=env, stdin=subprocess.DEVNULL,
                stdout=2, stderr=2, start_new_session=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            send_json(ERROR, {"message": "could not start the kernel: %s" % e})
            return
        # Reported started once it listens on every port, so that the
        # first client request does not meet a closed port.
        self.starting = (time.time() + READY_TIMEOUT, dict(zip(CHANNELS, ports)))

    def check_ready(self):
        deadline, ports = self.starting
        if self.kernel.poll() is not None:
            self.starting = None
            send_json(ERROR, {"message": "the kernel exited with status %s before it listened"
                              % self.kernel.returncode})
            self.check_kernel()
            return
        if all(listens(self.ipc, port) for port in ports.values()):
            self.starting = None
            self.started = {"pid": self.kernel.pid, "ports": ports,
                            "transport": "ipc" if self.ipc else "tcp"}
            self.exited = None
            send_json(STARTED, self.started)
        elif time.time() > deadline:
            self.starting = None
            self.stop_kernel()
            send_json(ERROR, {"message": "the kernel did not listen on its ports within %d s"
                              % READY_TIMEOUT})

    def signal_kernel(self, signum):
        if self.kernel is None or self.kernel.poll() is not None:
            send_json(ERROR, {"message": "no kernel is running"})
            return
        try:
            os.killpg(self.kernel.pid, signum)
        except OSError as e:
            send_json(ERROR, {"message": "could not signal the kernel: %s" % e})

    def check_kernel(self):
        k = self.kernel
        if k is None or k.returncode is not None:
            return
        code = k.poll()
        if code is not None:
            self.started = None
            self.exited = {"pid": k.pid, "code": code if code >= 0 else None,
                           "signal": -code if code < 0 else None}
            send_json(EXITED, self.exited)

    def stop_kernel(self):
        k = self.kernel
        if k is not None and k.poll() is None:
            try:
                os.killpg(k.pid, signal.SIGTERM)
            except OSError:
                pass
            deadline = time.time() + KILL_GRACE
            while k.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            if k.poll() is None:
                try:
                    os.killpg(k.pid, signal.SIGKILL)
                except OSError:
                    pass
                k.wait()
        # What the kernel itself started (its own session) goes too.
        if k is not None:
            try:
                os.killpg(k.pid, signal.SIGKILL)
            except OSError:
                pass

    def cleanup(self):
        for st in list(self.streams.values()):
            self.drop(st)
        self.close_listener()
        self.stop_kernel()
        if self.dir is not None:
            for name in os.listdir(self.dir):
                os.unlink(os.path.join(self.dir, name))
            os.rmdir(self.dir)
            self.dir = None

    def run(self):
        job, step = os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURM_STEP_ID")
        hello = {"version": VERSION, "pid": os.getpid(),
                 "host": socket.gethostname(), "python": sys.executable,
                 "node": os.environ.get("SLURMD_NODENAME") or None,
                 "step": "%s.%s" % (job, step) if job and step else None,
                 "link": self.open_listener()}
        if DETACHED:
            if hello["link"] is None:
                return  # nothing could reach us; the launcher reports our stderr
            os.write(OUT, json.dumps(hello).encode("utf-8") + b"\n")
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, OUT)
            os.close(devnull)
        else:
            self.sel.register(0, selectors.EVENT_READ, None)
            send_json(HELLO, hello)
        flush_at = None
        last_flush = 0.0
        while not self.done:
            if DETACHED and self.orphaned_at is not None \
                    and time.time() - self.orphaned_at > LINGER:
                sys.stderr.write("relay: no sidecar linked for %d s; ending\n" % LINGER)
                self.exit_status = 3
                break
            timeout = 0.01 if self.starting else 0.2
            if self.unproven:
                timeout = min(timeout, 0.5)
            if flush_at is not None:
                timeout = max(0.0, flush_at - time.time())
            for key, events in self.sel.select(timeout):
                st = key.data
                if st is None:
                    self.read_stdin()
                    continue
                if st == "listen":
                    self.accept()
                    continue
                if st == "unproven":
                    self.prove(key.fileobj)
                    continue
                if st == "link":
                    self.read_link()
                    continue
                if events & selectors.EVENT_WRITE and st.sid in self.streams:
                    self.to_kernel(st)
                if events & selectors.EVENT_READ and st.sid in self.streams:
                    self.from_kernel(st)
            if self.starting:
                self.check_ready()
            else:
                self.check_kernel()
            if self.unproven:
                self.expire_unproven()
            now = time.time()
            if link:
                flush()
                continue
            if pending and flush_at is None and now - last_flush > QUIET:
                flush_at = now + GATHER
            if flush_at is not None and now < flush_at and not self.done:
                continue
            flush_at = None
            if pending:
                last_flush = now
                flush()


def connect_kernel(ipc, port):
    """A connection to the kernel's port: TCP on 127.0.0.1, or its Unix socket."""
    if ipc is None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(1)
        try:
            sock.connect("%s-%d" % (ipc, port))
        except OSError:
            sock.close()
            raise
    return sock


def listens(ipc, port):
    try:
        connect_kernel(ipc, port).close()
        return True
    except OSError:
        return False


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def main():
    relay = Relay()

    def stop(signum, frame):
        relay.done = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    # A handler, not SIG_IGN: an ignored SIGINT would be inherited by the
    # kernel, which then could not be interrupted.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        relay.run()
    except BrokenPipeError:
        pass  # the sidecar is gone
    finally:
        relay.cleanup()
        try:
            flush()
        except OSError:
            pass
    sys.exit(relay.exit_status)


main()
