"""ClusterProvisioner under a real Jupyter kernel manager.

Only the sidecar is replaced (fake_sidecar.py: its lease route on a unix
socket). The kernel managers are jupyter_server's and jupyter_client's own,
found through the provisioner's entry point, and the kernel they talk to is a
real ipykernel started with the key the provisioner sent.
"""

import asyncio
import json
import os
import signal
import sys

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import KernelProvisionerFactory
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets.config import Config

import jupyterlab_hpc
from jupyterlab_hpc import extension
from jupyterlab_hpc.provisioner import ClusterProvisioner

from fake_sidecar import FakeSidecar

SPEC = "hpc-test"


@pytest.fixture
def kernelspecs(tmp_path):
    spec_dir = tmp_path / "kernels" / SPEC
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "jupyterlab_hpc.cluster_kernel", "{connection_file}"],
                "display_name": "Python [conda env:test] on hpc",
                "language": "python",
                "interrupt_mode": "signal",
                "metadata": {
                    "kernel_provisioner": {
                        "provisioner_name": "jupyterlab-hpc",
                        "config": {"profile": "p1", "some_future_key": 1},
                    }
                },
            }
        )
    )
    return KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])


@pytest.fixture
async def sidecar(tmp_path, monkeypatch):
    directory = tmp_path / "sidecar"
    directory.mkdir(mode=0o700)
    async with FakeSidecar(directory) as fake:

        async def ensure_sidecar():
            return fake.socket_path

        monkeypatch.setattr(extension, "ensure_sidecar", ensure_sidecar)
        yield fake


@pytest.fixture
async def mapping(tmp_path, kernelspecs):
    """jupyter_server's kernel manager, polling kernels every 0.2 s."""
    root = tmp_path / "root"
    (root / "project").mkdir(parents=True)
    config = Config({"KernelRestarter": {"time_to_dead": 0.2}})
    mkm = AsyncMappingKernelManager(
        root_dir=str(root), kernel_spec_manager=kernelspecs, config=config
    )
    yield mkm
    for kernel_id in mkm.list_kernel_ids():
        try:
            await mkm.shutdown_kernel(kernel_id, now=True)
        except Exception:  # a failed start leaves an entry that is not a kernel
            pass
    # Its __del__ would term() the zmq context with the default linger and
    # block on the control socket of a kernel that died (a later test hangs).
    mkm.context.destroy(linger=0)
    mkm._created_context = False


async def run(km, code, timeout=30):
    """Execute code in the kernel; (reply content, stdout, error name)."""
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=timeout)
        out = []
        reply = await kc.execute_interactive(
            code,
            timeout=timeout,
            output_hook=lambda m: out.append(m["content"].get("text", ""))
            if m["msg_type"] == "stream"
            else None,
        )
        return reply["content"], "".join(out)
    finally:
        kc.stop_channels()


async def start(mapping, sidecar, notebook="project/a.ipynb"):
    env = {"JPY_SESSION_NAME": os.path.join(mapping.root_dir, notebook)}
    kernel_id = await mapping.start_kernel(kernel_name=SPEC, path="project", env=env)
    return kernel_id, mapping.get_kernel(kernel_id)


async def test_the_entry_point_names_this_class():
    factory = KernelProvisionerFactory.instance()
    assert "jupyterlab-hpc" in factory.get_provisioner_entries()
    ep = factory._get_provisioner("jupyterlab-hpc")
    assert ep.load() is ClusterProvisioner


async def test_a_start_is_queued_then_runs_code_with_the_managers_key(mapping, sidecar):
    kernel_id, km = await start(mapping, sidecar)

    [start_msg] = sidecar.messages("start")
    assert start_msg == {
        "type": "start",
        "version": 2,
        "kernelId": kernel_id,
        "profile": "p1",
        "key": km.session.key.decode(),
        "signatureScheme": "hmac-sha256",
        "notebookPath": "project/a.ipynb",
        "restart": False,
    }
    # One lease, with our header and no Origin (the sidecar refuses browsers).
    [headers] = sidecar.headers
    assert headers.get("X-Jupyterlab-Hpc") == "1"
    assert "Origin" not in headers

    info = km.get_connection_info()
    assert isinstance(info["key"], bytes)
    assert info["key"] == km.session.key
    assert info["shell_port"] == sidecar.kernel.info["shell_port"]
    with open(km.connection_file) as f:
        assert json.load(f)["key"] == km.session.key.decode()
    assert km.provisioner.has_process

    reply, out = await run(km, "print(6 * 7)")
    assert reply["status"] == "ok"
    assert out == "42\n"


async def test_a_failed_start_raises_the_sidecars_message_and_closes_the_lease(mapping, sidecar):
    async def refuse(ws, msg):
        ws.reply({"type": "progress", "state": "waiting", "jobId": None, "reason": None, "estimatedStart": None})
        ws.reply({"type": "failed", "message": "Slurm refused the job: Invalid account", "cancelled": False})

    sidecar.on_start = refuse
    with pytest.raises(RuntimeError, match="Slurm refused the job: Invalid account"):
        await start(mapping, sidecar)
    await sidecar.wait_for("the lease to close", lambda: len(sidecar.closed) == 1)
    assert mapping.list_kernel_ids() == []


async def test_a_sidecar_of_another_lease_protocol_is_refused_with_a_hint(mapping, sidecar):
    sidecar.version = 3
    with pytest.raises(RuntimeError, match="lease protocol 3, this Jupyter server 2: restart"):
        await start(mapping, sidecar)
    assert sidecar.messages("start") == []


async def test_a_lost_sidecar_during_a_start_fails_it(mapping, sidecar):
    async def vanish(ws, msg):
        ws.close()

    sidecar.on_start = vanish
    with pytest.raises(RuntimeError, match="sidecar stopped"):
        await start(mapping, sidecar)


async def test_a_kernel_whose_allocation_ended_is_dead_with_the_reason_not_restarted(
    mapping, sidecar
):
    kernel_id, km = await start(mapping, sidecar)
    restarter = km._restarter
    # The provisioner relies on this private attribute (research 1.6): if a
    # jupyter_client release drops it, this test must fail, not pass quietly.
    assert isinstance(restarter.restart_limit, int) and restarter.restart_limit > 0
    dead = asyncio.Event()
    km.add_restart_callback(dead.set, "dead")

    sidecar.kernel.stop()
    sidecar.sockets[0].reply(
        {"type": "exited", "reason": "The job reached its time limit.", "exitCode": None, "fatal": True}
    )
    await asyncio.wait_for(dead.wait(), 10)

    assert restarter.restart_limit == 0
    assert km.reason == "The job reached its time limit."
    await sidecar.wait_for("the kernel's removal", lambda: kernel_id not in mapping)
    # No auto-restart was attempted (it would queue a new job or hang).
    assert len(sidecar.messages("start")) == 1


async def test_a_sidecar_that_goes_away_leaves_the_kernel_dead(mapping, sidecar):
    kernel_id, km = await start(mapping, sidecar)
    dead = asyncio.Event()
    km.add_restart_callback(dead.set, "dead")
    sidecar.sockets[0].close()
    await asyncio.wait_for(dead.wait(), 10)
    assert "sidecar stopped" in km.reason
    assert len(sidecar.messages("start")) == 1


async def test_a_kernel_whose_relay_outlives_the_sidecar_is_taken_up_by_the_next(
    mapping, sidecar
):
    sidecar.detached = True
    kernel_id, km = await start(mapping, sidecar)
    reply, _ = await run(km, "kept = 6 * 7")
    assert reply["status"] == "ok"
    sidecar.sockets[0].close()
    await sidecar.wait_for("a resume on a new lease", lambda: len(sidecar.messages("resume")) == 1)
    [resume] = sidecar.messages("resume")
    started = sidecar.received[0][0]
    assert resume == {
        "type": "resume",
        "version": 2,
        "kernelId": kernel_id,
        "profile": "p1",
        "notebookPath": "project/a.ipynb",
        "jobId": "42",
        "relay": sidecar.relay_handle(),
        "connection": sidecar.kernel.connection(),
    }
    # The key stays out of it: the kernel has it already.
    assert km.session.key.decode() not in json.dumps(resume)
    assert len(sidecar.sockets) == 2 and started is sidecar.sockets[0]
    assert await km.provisioner.poll() is None
    reply, out = await run(km, "print(kept)")
    assert reply["status"] == "ok"
    assert out == "42\n"
    assert len(sidecar.messages("start")) == 1


async def test_a_kernel_the_next_sidecar_cannot_take_up_is_dead_with_its_reason(mapping, sidecar):
    sidecar.detached = True

    async def refuse(ws, msg):
        ws.reply({"type": "failed", "message": "The kernel's job 42 on hpc is not running any more.", "cancelled": False})

    sidecar.on_resume = refuse
    kernel_id, km = await start(mapping, sidecar)
    dead = asyncio.Event()
    km.add_restart_callback(dead.set, "dead")
    sidecar.sockets[0].close()
    await asyncio.wait_for(dead.wait(), 20)
    assert "could not take the cluster kernel up again" in km.reason
    assert "job 42 on hpc is not running" in km.reason
    assert len(sidecar.messages("start")) == 1


async def test_a_kernel_that_crashed_in_a_live_allocation_is_restarted_on_the_same_lease(
    mapping, sidecar
):
    kernel_id, km = await start(mapping, sidecar)
    restarted = asyncio.Event()
    km.add_restart_callback(restarted.set, "restart")
    sidecar.kernel.stop()
    sidecar.sockets[0].reply({"type": "exited", "reason": "killed", "exitCode": -9, "fatal": False})
    await asyncio.wait_for(restarted.wait(), 10)
    await sidecar.wait_for("a second start", lambda: len(sidecar.messages("start")) == 2)
    assert sidecar.messages("start")[1]["restart"] is True
    assert len(sidecar.sockets) == 1
    await sidecar.wait_for("the new kernel", lambda: km.provisioner.has_process)
    reply, out = await run(km, "print('again')")
    assert out == "again\n"


async def test_a_restart_keeps_the_lease_and_the_key(mapping, sidecar):
    kernel_id, km = await start(mapping, sidecar)
    key = km.session.key
    await run(km, "x = 1")
    await mapping.restart_kernel(kernel_id)

    starts = sidecar.messages("start")
    assert [s["restart"] for s in starts] == [False, True]
    assert starts[1]["key"] == key.decode()
    assert len(sidecar.sockets) == 1 and sidecar.closed == []
    assert sidecar.messages("release") == []
    assert km.get_connection_info()["key"] == key
    reply, out = await run(km, "print('x' in dir())")
    assert out == "False\n"


async def test_an_interrupt_reaches_the_kernel_as_a_signal(mapping, sidecar):
    kernel_id, km = await start(mapping, sidecar)
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=30)
        msg_id = kc.execute("import time\nwhile True: time.sleep(0.01)")
        await asyncio.sleep(1)
        await mapping.interrupt_kernel(kernel_id)
        reply = await kc.get_shell_msg(timeout=20)
        while reply["parent_header"].get("msg_id") != msg_id:  # a late kernel_info_reply
            reply = await kc.get_shell_msg(timeout=20)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
    finally:
        kc.stop_channels()
    assert {"type": "signal", "signal": "SIGINT"} in sidecar.messages("signal")
    reply, out = await run(km, "print('alive')")
    assert out == "alive\n"


async def test_a_shutdown_releases_the_kernel_and_closes_the_lease(mapping, sidecar):
    kernel_id, km = await start(mapping, sidecar)
    kernel = sidecar.kernel
    await mapping.shutdown_kernel(kernel_id)
    await sidecar.wait_for("a release", lambda: sidecar.messages("release") == [{"type": "release"}])
    await sidecar.wait_for("the lease to close", lambda: len(sidecar.closed) == 1)
    assert kernel.process.poll() is not None
    assert not km.provisioner.has_process


async def test_signals_and_stops_on_a_dead_kernel_do_not_raise(kernelspecs, sidecar):
    km = AsyncKernelManager(kernel_name=SPEC, kernel_spec_manager=kernelspecs)
    await km.start_kernel()
    provisioner = km.provisioner
    sidecar.kernel.stop()
    sidecar.sockets[0].reply({"type": "exited", "reason": "gone", "exitCode": 1, "fatal": False})
    await sidecar.wait_for("the exit", lambda: provisioner._exit_code is not None)
    assert await provisioner.poll() == 1

    before = len(sidecar.received)
    await km.interrupt_kernel()
    await provisioner.send_signal(signal.SIGINT)
    await provisioner.kill()
    await provisioner.terminate()
    assert len(sidecar.received) == before  # nothing sent for a dead kernel

    sidecar.sockets[0].close()
    await sidecar.wait_for("the lease to close", lambda: provisioner._lease is None)
    await provisioner.send_signal(signal.SIGINT)
    await provisioner.kill()
    await km.shutdown_kernel(now=True)
    assert not km.has_kernel


async def test_kill_stops_the_step_and_keeps_the_lease(kernelspecs, sidecar):
    km = AsyncKernelManager(kernel_name=SPEC, kernel_spec_manager=kernelspecs)
    await km.start_kernel()
    provisioner = km.provisioner
    await provisioner.kill()
    await sidecar.wait_for("a stop", lambda: sidecar.messages("stop") == [{"type": "stop"}])
    assert await asyncio.wait_for(provisioner.wait(), 10) == -signal.SIGKILL
    assert sidecar.closed == [] and sidecar.messages("release") == []
    await provisioner.cleanup(restart=False)
    await sidecar.wait_for("a release", lambda: sidecar.messages("release") == [{"type": "release"}])


async def test_a_notebook_outside_the_root_is_sent_as_null(mapping, sidecar, tmp_path):
    kernel_id, km = await start(mapping, sidecar, notebook="../elsewhere/b.ipynb")
    assert sidecar.messages("start")[0]["notebookPath"] is None


async def test_the_provisioner_takes_its_profile_from_the_kernelspec_config(kernelspecs):
    km = AsyncKernelManager(kernel_name=SPEC, kernel_spec_manager=kernelspecs)
    provisioner = KernelProvisionerFactory.instance().create_provisioner_instance(
        "k1", km.kernel_spec, parent=km
    )
    assert isinstance(provisioner, ClusterProvisioner)
    assert provisioner.profile == "p1"
    assert provisioner.get_shutdown_wait_time(5.0) >= 8.0


async def test_without_the_server_extension_the_start_says_so(kernelspecs):
    km = AsyncKernelManager(kernel_name=SPEC, kernel_spec_manager=kernelspecs)
    with pytest.raises(RuntimeError, match="server extension is not enabled"):
        await km.start_kernel()
