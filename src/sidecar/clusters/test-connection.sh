# shellcheck shell=sh
# What "Test connection" shows of the login environment, as key=value lines;
# conda, mamba and micromamba are found by collect.sh (see test-connection.ts).
printf 'host=%s\n' "$(hostname 2>/dev/null || uname -n)"
printf 'shell=%s\n' "${SHELL:-}"
version=$(sinfo --version 2>/dev/null) && printf 'slurm=%s\n' "$version"
exit 0
