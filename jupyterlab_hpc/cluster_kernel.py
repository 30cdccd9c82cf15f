"""The fallback ``argv`` of cluster kernelspecs (``hpc-<id>``).

A cluster kernel is started by the jupyterlab-hpc kernel provisioner inside
a Jupyter server, which runs it as a job step on the cluster. A client that
skips provisioners and runs the kernelspec's ``argv`` itself lands here and
is told so, instead of getting a local kernel that only looks like the
cluster one.
"""

import sys

MESSAGE = (
    "This is a cluster kernel of jupyterlab-hpc: it runs on a SLURM cluster "
    "and can only be started from a Jupyter server (JupyterLab, Notebook) "
    "where jupyterlab-hpc is installed, through its kernel provisioner."
)


def main(argv: list) -> int:
    print(MESSAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
