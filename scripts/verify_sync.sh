#!/usr/bin/env bash
# Compare the local archives with the backup server's (POST /verify) and report what differs.
set -euo pipefail

PROG=$(basename "$0")

usage() {
  cat <<EOF
Usage: $PROG [--stats] [--json]

Send the name, size and MD5 of every archive in \$BACKUP_DIR/FULL, INC and DIFF to the
server's /verify and print, per type, what is synced, missing on the server, only on the
server (extra, not an error), mismatched (same name, different size or MD5) and corrupt
(stored, but not a complete gzip stream: out of sync).
An <archive>.md5 file is trusted only when it is newer than its archive.
  --stats  also print the server's statistics (GET /stats)
  --json   print the server's JSON answers as they come (verify, then stats)

Environment:
  SERVER_URL     the server (default: http://localhost:5000); may carry credentials,
                 e.g. http://backup:<token>@host:5000 (sent as HTTP Basic)
  SYNCAPP_TOKEN  API token, sent as 'Authorization: Bearer' when set
  BACKUP_DIR     where the archives are (default: \$HOME/syncapp-backups, as backup.sh;
                 ./backup while it holds archives and ~/syncapp-backups does not exist)

Exit status: 0 when synchronized, 1 when out of sync, 2 when the server cannot be reached,
3 when it refuses the credentials, 4 on any other error, 64 on a usage error.
EOF
}

# shellcheck source=client_lib.sh
source "$(dirname "$(readlink -f "$0")")/client_lib.sh"

want_stats=false want_json=false
for arg in "$@"; do
  case $arg in
    -h | --help) usage; exit 0 ;;
    --stats) want_stats=true ;;
    --json) want_json=true ;;
    *) usage_error "unknown argument '$arg'" ;;
  esac
done
command -v curl >/dev/null || die 4 "curl is needed"
command -v python3 >/dev/null || die 4 "python3 is needed (to read the server's JSON)"

server_address
backup_folder
[ -d "$backup_dir" ] || die 4 "no backup folder '$backup_dir' (set BACKUP_DIR)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl_config "$work/curlrc"
printf 'header = "Accept: application/json"\n' >>"$curlrc"

# call <output> <curl args...>: prints the HTTP status; exits 2 if the server is unreachable.
call() {
  server_call 4 "$@" --silent --show-error --max-time 300
}

# check <what> <status> <file>: stops unless the server answered 200.
check() {
  [ "$2" = 200 ] && return 0
  local message
  message=$(server_message "$3")
  case $2 in
    401 | 403) die 3 "the server at $shown_url refused the credentials for $1 (HTTP $2):" \
      "$message - set SYNCAPP_TOKEN or put the token in SERVER_URL" ;;
    *) die 4 "$1 answered HTTP $2: $message" ;;
  esac
}

# --- the local archives -------------------------------------------------------------------------

: >"$work/local"
shopt -s nullglob
for kind in FULL INC DIFF; do
  for file in "$backup_dir/$kind"/*.tar.gz; do
    [ -f "$file" ] || continue
    name=$(basename "$file")
    md5=
    if [ "$file.md5" -nt "$file" ]; then
      read -r md5 recorded _ <"$file.md5" || true
      [[ $md5 =~ ^[0-9a-f]{32}$ && ${recorded#\*} = "$name" ]] || md5=
    fi
    [ -n "$md5" ] || md5=$(md5sum <"$file" | cut -d' ' -f1) || die 4 "cannot read $file"
    printf '%s\t%s\t%s\t%s\n' "$kind" "$name" "$(stat -c %s "$file")" "$md5" >>"$work/local"
  done
done
shopt -u nullglob

python3 - "$work/local" >"$work/request.json" <<'PY'
import json, sys
local = {"FULL": [], "INC": [], "DIFF": []}
for line in open(sys.argv[1]):
    kind, name, size, md5 = line.rstrip("\n").split("\t")
    local[kind].append({"name": name, "size": int(size), "md5": md5})
# "ignore": archives only on the server are reported, not an error (old local ones get pruned)
json.dump({"local_backups": local, "extra_remote": "ignore"}, sys.stdout)
PY

# --- ask the server -----------------------------------------------------------------------------

code=$(call "$work/verify.json" -H "Content-Type: application/json" \
  --data-binary "@$work/request.json" "$server_url/verify")
check "POST /verify" "$code" "$work/verify.json"
if $want_stats; then
  code=$(call "$work/stats.json" "$server_url/stats")
  check "GET /stats" "$code" "$work/stats.json"
fi

if $want_json; then
  for answer in verify stats; do
    [ -f "$work/$answer.json" ] || continue
    cat "$work/$answer.json"
    [ -z "$(tail -c 1 "$work/$answer.json")" ] || echo
  done
else
  python3 - "$work/verify.json" "$shown_url" "$backup_dir" <<'PY' || die 4 "unexpected answer"
import json, sys
reply = json.load(open(sys.argv[1]))
print(f"Synchronisation of {sys.argv[3]} with {sys.argv[2]}")
labels = [
    ("synced", "synced"),
    ("missing_remote", "missing on the server"),
    ("extra_remote", "only on the server"),
    ("mismatched", "MISMATCHED"),
    ("corrupt", "CORRUPT ON THE SERVER"),
]
for kind in ("FULL", "INC", "DIFF"):
    item = {"corrupt": [], **reply["verification"][kind]}
    counts = ", ".join(f"{len(item[key])} {label.lower()}" for key, label in labels)
    print(f"\n{kind}: {item['local_count']} local, {item['remote_count']} on the server: {counts}")
    for key, label in labels:
        for name in item[key]:
            print(f"  {label:<22} {name}")
issues = reply.get("issues") or []
if issues:
    print(f"\nIssues ({len(issues)}):")
    for issue in issues:
        print(f"  - {issue}")
print(f"\nStatus: {reply['sync_status']}")
PY
  if $want_stats; then
    python3 - "$work/stats.json" <<'PY' || die 4 "unexpected answer from GET /stats"
import json, sys
stats = json.load(open(sys.argv[1]))
total = stats["total"]
print(f"\nServer statistics ({stats.get('timestamp', '')})")
print(f"  total: {total['files']} archive(s), {total['size_human']}")
for kind, figures in stats["storage"].items():
    print(f"  {kind:<5} {figures['count']} archive(s), {figures['size_human']}")
for name, profile in sorted((stats.get("profiles") or {}).items()):
    last = (profile.get("last_full") or {}).get("name") or "none"
    print(f"  profile {name}: {profile['count']} archive(s), {profile['size_human']}, "
          f"last FULL: {last}")
for key in ("oldest", "newest"):
    if stats.get(key):
        print(f"  {key}: {stats[key]['type']}/{stats[key]['name']} ({stats[key]['uploaded_at']})")
if stats.get("free_space_human"):
    print(f"  free space on the server: {stats['free_space_human']}")
PY
  fi
fi

status=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sync_status"])' \
  "$work/verify.json") || die 4 "unexpected answer from POST /verify"
[ "$status" = SYNCHRONIZED ] || exit 1
