# shellcheck shell=sh
# The sessions on this cluster that may still run, for attaching to them
# from another computer: sh -c "$(cat list.sh)" jlhpc-list [ID...]
# (no IDs: every session directory). Prints the cluster's UTC offset
# (`date +%z`, squeue's times have no zone) and then, for each session
# directory that has a job id and no exit record yet:
#   session ID JOBID <session.json on one line>
# session.json is the submitter's own (origin, createdAt, request): no
# secret is in it. Whether the job still lives is squeue's to say.
base=$HOME/.jupyterlab-hpc/sessions
date +%z
[ -d "$base" ] || exit 0
# Session ids are [a-z0-9]: the split of ls output is safe.
# shellcheck disable=SC2046
[ $# -gt 0 ] || set -- $(ls -1 "$base" 2>/dev/null)
for id in "$@"; do
  dir=$base/$id
  [ -s "$dir/job-id" ] || continue
  [ -e "$dir/exit" ] && continue
  printf 'session %s %s %s\n' "$id" "$(head -n 1 "$dir/job-id")" \
    "$(tr -d '\n' <"$dir/session.json" 2>/dev/null)"
done
