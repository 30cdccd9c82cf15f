# shellcheck shell=sh
# Lay out a session's directory on the login node and submit its job, in
# one round trip: sh -c "$(cat submit.sh)" jlhpc-submit ID SCRIPT META sbatch ARGS...
#   ID      the session id (checked by the caller: [a-z0-9]{8,32})
#   SCRIPT  the job script (batch-script.ts)
#   META    session.json: who started it, from where, with which request
# Everything is created owner-only. The job's log exists before sbatch runs,
# since slurmstepd would create a missing one world-readable. Prints
# sbatch's own output (the job id, or why it refused).
umask 077
id=$1 script=$2 meta=$3
shift 3
base=$HOME/.jupyterlab-hpc
dir=$base/sessions/$id
mkdir -p "$base/sessions" || exit 1
chmod 700 "$base" "$base/sessions" || exit 1
mkdir "$dir" || exit 1
printf '%s' "$script" >"$dir/job.sh" || exit 1
printf '%s\n' "$meta" >"$dir/session.json" || exit 1
: >"$dir/job.log" || exit 1
cd "$dir" || exit 1
out=$("$@" 2>&1)
status=$?
printf '%s\n' "$out"
if [ "$status" -eq 0 ]; then
  # The job id, for re-attaching from another computer.
  printf '%s\n' "$out" | tail -n 1 >"$dir/job-id"
fi
exit "$status"
