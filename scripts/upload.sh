#!/usr/bin/env bash
# Upload backup archives to syncapp's backup server (POST /upload), skipping those it already has.
set -euo pipefail

PROG=$(basename "$0")

usage() {
  cat <<EOF
Usage: $PROG <profile> --all
       $PROG <profile> FILE...

Upload archives to the backup server with their MD5, oldest first. --all takes every
*.tar.gz in \$BACKUP_DIR/FULL, INC and DIFF; the type of an archive is the name of the
folder it is in (FULL, INC or DIFF). Archives the server already has (same name, same MD5)
are skipped. <archive>.md5 (md5sum format) is written beside each archive.

Environment:
  SERVER_URL     the server (default: http://localhost:5000); may carry credentials,
                 e.g. http://backup:<token>@host:5000 (sent as HTTP Basic)
  SYNCAPP_TOKEN  API token, sent as 'Authorization: Bearer' when set
  BACKUP_DIR     where the archives are (default: \$HOME/syncapp-backups, as backup.sh;
                 ./backup while it holds archives and ~/syncapp-backups does not exist)

Exit status: 0 when every archive is on the server, 1 when an upload failed,
2 when the server cannot be reached, 3 when it refuses the credentials, 64 on a usage error.
EOF
}

# shellcheck source=client_lib.sh
source "$(dirname "$(readlink -f "$0")")/client_lib.sh"

for arg in "$@"; do
  case $arg in -h | --help) usage; exit 0 ;; esac
done
[ $# -ge 2 ] || usage_error "expected <profile> --all or <profile> FILE..."
profile=$1
shift
[[ $profile =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] ||
  usage_error "invalid profile '$profile': up to 64 letters, digits, '.', '_' and '-'"
command -v curl >/dev/null || die 1 "curl is needed"
command -v python3 >/dev/null || die 1 "python3 is needed (to read the server's JSON)"

server_address
backup_folder

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl_config "$work/curlrc"
printf 'header = "Accept: application/json"\n' >>"$curlrc"

# curl_json <output> <curl args...>: prints the HTTP status; exits 2 if the server is unreachable.
curl_json() {
  server_call 1 "$@" --speed-limit 1 --speed-time 120
}

refused() {
  die 3 "the server at $shown_url refused the credentials (HTTP $1): $(server_message "$2")" \
    "- set SYNCAPP_TOKEN or put the token in SERVER_URL"
}

# --- which archives -----------------------------------------------------------------------------

files=()
if [ "$1" = --all ]; then
  [ $# -eq 1 ] || usage_error "--all takes no file names"
  [ -d "$backup_dir" ] || die 1 "no backup folder '$backup_dir' (set BACKUP_DIR)"
  shopt -s nullglob
  for type_dir in FULL INC DIFF; do
    files+=("$backup_dir/$type_dir"/*.tar.gz)
  done
  shopt -u nullglob
else
  files=("$@")
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "No archive to upload in $backup_dir/{FULL,INC,DIFF}."
  exit 0
fi

# Oldest first (the time in the name, then the file's), so that the server links each INC and
# DIFF to the FULL it was made after.
sorted=()
while IFS= read -r line; do
  sorted+=("${line#*$'\t'*$'\t'}")
done < <(
  for file in "${files[@]}"; do
    name=$(basename "$file")
    stamp=$name
    [[ $name =~ _([0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{2}-[0-9]{2}-[0-9]{2}) ]] && stamp=${BASH_REMATCH[1]}
    mtime=$(stat -c %.9Y "$file" 2>/dev/null || echo 0)
    printf '%s\t%s\t%s\n' "$stamp" "$mtime" "$file"
  done | LC_ALL=C sort -t $'\t' -k1,1 -k2,2n
)

# --- what the server has ------------------------------------------------------------------------

code=$(curl_json "$work/list.json" --silent --show-error "$server_url/list")
case $code in
  200) ;;
  401 | 403) refused "$code" "$work/list.json" ;;
  *) die 1 "GET /list answered HTTP $code: $(server_message "$work/list.json")" ;;
esac
python3 - "$work/list.json" >"$work/remote" <<'PY' || die 1 "GET /list gave an unexpected answer"
import json, sys
try:
    for kind, items in json.load(open(sys.argv[1]))["backups"].items():
        for item in items:
            # names are unique per profile: another profile's archive of this name is no clash
            print(f"{kind}/{item.get('profile', '')}/{item['name']} {item['md5']}")
except (ValueError, KeyError, TypeError, AttributeError) as exc:
    sys.exit(f"cannot read the list of archives: {exc!r}")
PY

# --- upload -------------------------------------------------------------------------------------

if [ -t 2 ]; then progress=(--progress-bar); else progress=(--silent --show-error); fi
uploaded=0 skipped=0 failed=0

fail() {
  echo "$PROG: FAILED $1: $2" >&2
  failed=$((failed + 1))
}

for file in "${sorted[@]}"; do
  name=$(basename "$file")
  if [ ! -f "$file" ]; then fail "$file" "no such file"; continue; fi
  dir=$(cd "$(dirname "$file")" && pwd -P)
  kind=$(basename "$dir")
  case $kind in FULL | INC | DIFF) ;; *)
    fail "$file" "not in a FULL, INC or DIFF folder, so its type is unknown"; continue ;;
  esac
  if [[ ! $name =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}\.tar\.gz$ ]]; then
    fail "$kind/$name" "the server accepts only letters, digits, '.', '_', '-', '+' in names"
    continue
  fi
  if ! md5=$(md5sum <"$file" | cut -d' ' -f1); then fail "$kind/$name" "cannot read it"; continue; fi
  { printf '%s  %s\n' "$md5" "$name" >"$dir/$name.md5.tmp" &&
    mv "$dir/$name.md5.tmp" "$dir/$name.md5"; } 2>/dev/null ||
    echo "$PROG: warning: cannot write $dir/$name.md5" >&2
  remote=$(awk -v key="$kind/$profile/$name" '$1 == key { print $2; exit }' "$work/remote")
  if [ "$remote" = "$md5" ]; then
    echo "skip $kind/$name: already on the server"
    skipped=$((skipped + 1))
    continue
  fi
  if [ -n "$remote" ]; then
    fail "$kind/$name" "the server has a different archive under this name (MD5 $remote)"
    continue
  fi
  [ -t 2 ] && echo "upload $kind/$name" >&2
  code=$(cd "$dir" && curl_json "$work/reply.json" "${progress[@]}" \
    -F "file=@$name;type=application/gzip" -F "type=$kind" -F "profile=$profile" \
    -F "md5=$md5" "$server_url/upload")
  case $code in
    201 | 200)
      # 201 with already_stored: another run stored it meanwhile (older servers said 200)
      if [ "$code" = 200 ] || grep -q '"already_stored": *true' "$work/reply.json"; then
        echo "skip $kind/$name: already on the server"; skipped=$((skipped + 1))
      else
        echo "uploaded $kind/$name ($md5)"; uploaded=$((uploaded + 1))
      fi ;;
    401 | 403) refused "$code" "$work/reply.json" ;;
    *) fail "$kind/$name" "HTTP $code: $(server_message "$work/reply.json")" ;;
  esac
done

echo "$uploaded uploaded, $skipped already on the server, $failed failed ($shown_url)"
[ "$failed" -eq 0 ]
