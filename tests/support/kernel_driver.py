"""A real Jupyter client (jupyter_client, pyzmq) for the kernel relay tests.

    python kernel_driver.py channels <connection.json>
        Drives every channel and prints one JSON line per step on stdout. At
        "interrupt-me" it waits for the test to interrupt the kernel (the
        relay's SIGINT), then expects KeyboardInterrupt.
    python kernel_driver.py rtt <connection.json> <n> [gap seconds]
        Round trips of a trivial execute_request to its execute_reply, in ms
        (back to back, or `gap` apart as a person running cells would).
    python kernel_driver.py print <connection.json> <seconds>
        Runs a cell that prints every 50 ms for that long; prints how many
        stream messages came back on iopub.
    python kernel_driver.py exec <connection.json> <code>
        Runs one cell; prints its status and what it printed.
    python kernel_driver.py sub <ip> <port>... --seconds S
        A ZMQ SUB socket subscribed to everything on each tcp://ip:port (or
        ipc://ip-port when ip is a path): prints which plain connects failed
        and how many messages it received (the second-user probe).
"""
import json
import os
import socket
import sys
import time

TIMEOUT = 30


def say(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def client(path):
    from jupyter_client import BlockingKernelClient

    kc = BlockingKernelClient(connection_file=path)
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    return kc


def run_cell(kc, code, allow_stdin=False, on_input=None):
    """Execute; returns (reply content, [(msg_type, content)] from iopub)."""
    msg_id = kc.execute(code, allow_stdin=allow_stdin)
    outputs = []
    idle = False
    reply = None
    deadline = time.time() + TIMEOUT
    while not (idle and reply is not None):
        if time.time() > deadline:
            raise RuntimeError("no reply to %r" % code)
        if on_input is not None and reply is None:
            try:
                req = kc.get_stdin_msg(timeout=0.01)
                if req["parent_header"].get("msg_id") == msg_id:
                    kc.input(on_input(req["content"]))
            except Exception:  # queue.Empty
                pass
        if reply is None:
            try:
                msg = kc.get_shell_msg(timeout=0.01)
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg["content"]
            except Exception:
                pass
        while True:
            try:
                msg = kc.get_iopub_msg(timeout=0.005)
            except Exception:
                break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            t = msg["msg_type"]
            if t == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
            elif t in ("stream", "execute_result", "error", "display_data"):
                outputs.append((t, msg["content"]))
    return reply, outputs


def channels(path):
    import zmq

    kc = client(path)
    say(step="ready")

    reply, out = run_cell(kc, "print('hello from the node')")
    say(step="execute", status=reply["status"],
        stream="".join(c["text"] for t, c in out if t == "stream"))

    asked = []

    def answer(content):
        asked.append(content["prompt"])
        return "world"

    reply, out = run_cell(kc, "x = input('name? ')\nprint('got', x)",
                          allow_stdin=True, on_input=answer)
    say(step="stdin", status=reply["status"], prompt=asked,
        stream="".join(c["text"] for t, c in out if t == "stream"))

    msg_id = kc.execute("import time\nwhile True:\n    time.sleep(0.01)")
    # Busy first, so the loop is surely running when the test interrupts.
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "busy"):
            break
    time.sleep(0.3)
    say(step="interrupt-me")
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
    say(step="interrupted", status=reply["content"]["status"],
        ename=reply["content"].get("ename"))

    # ipykernel aborts requests that reach it while it is still unwinding
    # the error (stop_on_error): the next cell comes a moment later, as a
    # person's would.
    time.sleep(0.5)
    reply, out = run_cell(kc, "6 * 7")
    say(step="after-interrupt", status=reply["status"],
        result=[c["data"]["text/plain"] for t, c in out if t == "execute_result"])

    # The heartbeat: a REQ socket of our own, echoed by the kernel.
    info = json.load(open(path))
    ctx = zmq.Context.instance()
    hb = ctx.socket(zmq.REQ)
    hb.linger = 0
    hb.connect("tcp://%s:%d" % (info["ip"], info["hb_port"]))
    hb.send(b"ping-relay")
    beat = hb.recv() if hb.poll(TIMEOUT * 1000) else None
    say(step="heartbeat", echo=beat.decode() if beat else None,
        beating=kc.hb_channel.is_beating())

    kc.complete("import o", 8)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    say(step="complete", status=reply["content"]["status"],
        has_os="os" in reply["content"]["matches"])

    kc.inspect("len", 3)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    say(step="inspect", status=reply["content"]["status"], found=reply["content"]["found"])

    kc.shutdown()
    reply = kc.get_control_msg(timeout=TIMEOUT)
    say(step="shutdown", msg_type=reply["msg_type"], status=reply["content"]["status"])
    kc.stop_channels()


def rtt(path, n, gap=0.0):
    kc = client(path)
    for _ in range(20):  # warm up
        run_cell(kc, "pass")
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        msg_id = kc.execute("pass", silent=False, store_history=False)
        while True:
            msg = kc.get_shell_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id:
                break
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(gap)
        # Drain iopub so it does not pile up.
        while True:
            try:
                kc.get_iopub_msg(timeout=0)
            except Exception:
                break
    kc.stop_channels()
    say(step="rtt", ms=times)


def printing(path, seconds):
    kc = client(path)
    say(step="printing")
    code = "import time\nt = time.time()\nwhile time.time() - t < %f:\n    print('secret output', flush=True)\n    time.sleep(0.05)" % seconds
    reply, out = run_cell(kc, code)
    kc.stop_channels()
    say(step="printed", status=reply["status"], streams=len([1 for t, c in out if t == "stream"]))


def execute(path, code):
    kc = client(path)
    reply, out = run_cell(kc, code)
    kc.stop_channels()
    say(step="exec", status=reply["status"],
        stream="".join(c["text"] for t, c in out if t == "stream"))


def sub(ip, ports, seconds):
    import zmq

    ctx = zmq.Context.instance()
    ipc = ip.startswith("/")  # a kernel's ipc path prefix
    socks = []
    for port in ports:
        s = ctx.socket(zmq.SUB)
        s.linger = 0
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect("ipc://%s-%d" % (ip, port) if ipc else "tcp://%s:%d" % (ip, port))
        socks.append(s)
    poller = zmq.Poller()
    for s in socks:
        poller.register(s, zmq.POLLIN)
    received = 0
    deadline = time.time() + seconds
    refused = []
    for port in ports:
        try:
            if ipc:
                u = socket.socket(socket.AF_UNIX)
                try:
                    u.connect("%s-%d" % (ip, port))
                finally:
                    u.close()
            else:
                socket.create_connection((ip, port), timeout=2).close()
        except OSError as e:
            refused.append(e.__class__.__name__)
    say(step="listening", refused=refused)
    while time.time() < deadline:
        for s, _ in poller.poll(100):
            s.recv_multipart()
            received += 1
    say(step="sub", received=received)


def across(path, go_file):
    """One client, kept connected while the relay changes hands (go_file appears)."""
    kc = client(path)
    reply, _ = run_cell(kc, "kept = 6 * 7")
    say(step="before", status=reply["status"])
    while not os.path.exists(go_file):
        time.sleep(0.05)
    t0 = time.time()
    reply, out = run_cell(kc, "print(kept)")
    say(step="after", status=reply["status"], ms=(time.time() - t0) * 1000,
        stream="".join(c["text"] for t, c in out if t == "stream"))
    kc.stop_channels()


def knock(host, port, tokens, seconds):
    """Connect to a relay's link port as someone without its token: what comes back."""
    received = 0
    refused = None
    for _ in range(tokens):
        try:
            s = socket.create_connection((host, port), timeout=2)
        except OSError as e:
            refused = e.__class__.__name__
            break
        s.settimeout(seconds)
        try:
            s.sendall(os.urandom(32).hex().encode("ascii"))
            while True:
                data = s.recv(65536)
                if not data:
                    break
                received += len(data)
        except OSError:
            pass
        finally:
            s.close()
    say(step="knock", received=received, refused=refused)


def main(argv):
    mode = argv[1]
    if mode == "channels":
        channels(argv[2])
    elif mode == "rtt":
        rtt(argv[2], int(argv[3]), float(argv[4]) if len(argv) > 4 else 0.0)
    elif mode == "exec":
        execute(argv[2], argv[3])
    elif mode == "knock":
        knock(argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    elif mode == "across":
        across(argv[2], argv[3])
    elif mode == "print":
        printing(argv[2], float(argv[3]))
    elif mode == "sub":
        seconds = float(argv[argv.index("--seconds") + 1])
        sub(argv[2], [int(p) for p in argv[3:argv.index("--seconds")]], seconds)
    else:
        raise SystemExit("unknown mode %s" % mode)


if __name__ == "__main__":
    main(sys.argv)
