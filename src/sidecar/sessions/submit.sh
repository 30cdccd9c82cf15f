# shellcheck shell=sh
# Lay out a job's directory on the login node and submit the job, in one
# round trip: sh -c "$(cat submit.sh)" jlhpc-submit KIND ID SCRIPT META sbatch ARGS...
#   KIND    sessions (JupyterLab sessions) or allocations (kernel hold jobs)
#   ID      the session or allocation id (checked by the caller: [a-z0-9]{8,32})
#   SCRIPT  the job script (batch-script.ts, kernels/allocation-job.ts)
#   META    session.json / allocation.json: who started it, from where, with what
# Everything is created owner-only. The job's log exists before sbatch runs,
# since slurmstepd would create a missing one world-readable. Prints
# sbatch's own output (the job id, or why it refused).
umask 077
kind=$1 id=$2 script=$3 meta=$4
shift 4
case $kind in
sessions | allocations) ;;
*)
  echo "jlhpc-submit: unknown kind $kind" >&2
  exit 2
  ;;
esac
base=$HOME/.jupyterlab-hpc
dir=$base/$kind/$id
mkdir -p "$base/$kind" || exit 1
chmod 700 "$base" "$base/$kind" || exit 1
mkdir "$dir" || exit 1
printf '%s' "$script" >"$dir/job.sh" || exit 1
printf '%s\n' "$meta" >"$dir/${kind%s}.json" || exit 1
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
