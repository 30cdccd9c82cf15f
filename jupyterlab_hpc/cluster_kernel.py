"""The argv of cluster kernelspecs: ``python -m jupyterlab_hpc.cluster_kernel {connection_file}``.

A Jupyter server with jupyterlab-hpc never runs it: the kernelspec names
the ``jupyterlab-hpc`` provisioner, which starts the kernel on the cluster.
Clients that launch a kernelspec's argv themselves (some editors) end here,
and are told why nothing starts.
"""

import sys

MESSAGE = (
    "This kernel runs on a cluster: start it from a Jupyter server with "
    "jupyterlab-hpc installed"
)


def main(argv=None):
    print(MESSAGE, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
