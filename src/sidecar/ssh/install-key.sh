# shellcheck shell=sh
# Adds the public key line $1 to ~/.ssh/authorized_keys unless it is there: see keys.ts.
umask 077
fail() { printf 'jlhpc-install-key: %s\n' "$1" >&2; exit 1; }
key=$1
kt=${key%% *}
kb=${key#* }
kb=${kb%% *}
case $key in *'
'*) fail 'the public key must be one line' ;; esac
case $kt in
ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) ;;
*) fail 'not a public key line' ;;
esac
case $kb in ''|*[!A-Za-z0-9+/=]*) fail 'not a public key line' ;; esac
[ -n "${HOME:-}" ] || fail 'HOME is not set'
d=$HOME/.ssh
f=$d/authorized_keys
if [ ! -d "$d" ]; then
  mkdir -p "$d" || fail "could not create $d"
fi
if [ ! -L "$d" ] && [ -O "$d" ]; then chmod 700 "$d" 2>/dev/null; fi
if [ ! -e "$f" ] && [ ! -L "$f" ]; then
  : >> "$f" || fail "could not create $f"
fi
if [ -f "$f" ] && [ ! -L "$f" ] && [ -O "$f" ]; then chmod 600 "$f" 2>/dev/null; fi
[ -r "$f" ] || fail "cannot read $f"
awk -v t="$kt" -v b="$kb" '
/^[ \t]*#/ { next }
{ for (i = 1; i < NF; i++) if ($i "" == t "" && $(i + 1) "" == b "") { found = 1; exit } }
END { exit found ? 0 : 1 }' "$f"
case $? in
0) echo jlhpc-key:present; exit 0 ;;
1) ;;
*) fail "could not read $f" ;;
esac
if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then
  printf '\n%s\n' "$key" >> "$f" || fail "could not add the key to $f"
else
  printf '%s\n' "$key" >> "$f" || fail "could not add the key to $f"
fi
if command -v restorecon >/dev/null 2>&1; then restorecon -F "$d" "$f" >/dev/null 2>&1; fi
echo jlhpc-key:installed
