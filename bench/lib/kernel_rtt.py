"""Round trips of a trivial execute_request to its execute_reply, at the ZMQ
level, with a kernel's connection file (jupyter_client, run with the
project venv's python by bench/sections/kernel.mjs).

    python kernel_rtt.py <connection.json> <n> [--gap S] [--shutdown]

Waits for the kernel (kernel_info), runs 20 warm-up cells, then times `n`
cells back to back (or S seconds apart, as a person runs cells); prints
{"ms": [...]} on stdout. With --shutdown it then asks the kernel to exit
(the ssh -L baseline's kernel has no manager).
"""
import json
import sys
import time

TIMEOUT = 30


def main(path, n, gap, shutdown):
    from jupyter_client import BlockingKernelClient

    kc = BlockingKernelClient(connection_file=path)
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)

    def cell():
        t0 = time.perf_counter()
        msg_id = kc.execute("pass", silent=False, store_history=False)
        while True:
            msg = kc.get_shell_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id:
                break
        ms = (time.perf_counter() - t0) * 1000
        # Drain iopub (busy, execute_input, idle) so it does not pile up.
        while True:
            try:
                kc.get_iopub_msg(timeout=0)
            except Exception:  # queue.Empty
                break
        return ms

    for _ in range(20):
        cell()
    times = []
    for _ in range(n):
        if gap:
            time.sleep(gap)
        times.append(cell())
    if shutdown:
        kc.shutdown()
    kc.stop_channels()
    sys.stdout.write(json.dumps({"ms": times}) + "\n")


if __name__ == "__main__":
    rest = sys.argv[3:]
    gap = float(rest[rest.index("--gap") + 1]) if "--gap" in rest else 0.0
    main(sys.argv[1], int(sys.argv[2]), gap, "--shutdown" in rest)
