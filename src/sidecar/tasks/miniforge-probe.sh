# shellcheck shell=sh
# What installing Miniforge into $1 needs to know: see scripts.ts.
# shellcheck disable=SC2088,SC2012 # a literal ~ is matched; ls -A only tells empty
case $1 in
  "~") p=$HOME;;
  "~/"*) p=$HOME/${1#"~/"};;
  *) p=$1;;
esac
printf 'prefix=%s\n' "$p"
if [ -d "$p" ]; then
  if [ ! -r "$p" ] || [ -n "$(ls -A "$p" 2>/dev/null | head -n 1)" ]; then
    echo exists=nonempty
  else
    echo exists=empty
  fi
elif [ -e "$p" ] || [ -L "$p" ]; then
  echo exists=file
else
  echo exists=no
fi
printf 'arch=%s\n' "$(uname -m)"
for t in curl wget bash; do
  c=$(command -v "$t" 2>/dev/null) && case $c in /*) printf '%s=%s\n' "$t" "$c";; esac
done
exit 0
