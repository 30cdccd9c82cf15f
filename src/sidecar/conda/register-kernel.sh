# shellcheck shell=sh
# Writes $1/$2/kernel.json ($3) and the logos of env $4: see kernelspec.ts.
d=$1/$2
mkdir -p -- "$1" || exit 3
if ! mkdir -- "$d" 2>/dev/null; then
  if [ -f "$d/kernel.json" ]; then
    printf 'exists\0'
    cat -- "$d/kernel.json"
    exit 0
  fi
  [ -d "$d" ] || { mkdir -- "$d"; exit 4; }
fi
if ! printf '%s' "$3" > "$d/.kernel.json.tmp" || ! mv -f -- "$d/.kernel.json.tmp" "$d/kernel.json"; then
  rm -f -- "$d/.kernel.json.tmp"; rmdir -- "$d" 2>/dev/null; exit 5
fi
for f in "$4"/lib/python*/site-packages/ipykernel/resources/logo-*; do
  [ -f "$f" ] && cp -- "$f" "$d/" 2>/dev/null
done
printf 'created\0'
exit 0
