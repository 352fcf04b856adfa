# shellcheck shell=bash
# What upload.sh, verify_sync.sh and restore.sh share: their messages, the server's address and
# the curl configuration that carries the token. Each sources this file from its own folder (the
# connect page installs them together); the caller sets PROG first.

die() {
  local status=$1
  shift
  echo "$PROG: error: $*" >&2
  exit "$status"
}

usage_error() {
  echo "$PROG: $*" >&2
  echo "Try '$PROG -h'." >&2
  exit 64
}

# server_address: sets server_url from SERVER_URL, which may carry credentials, and shown_url,
# the address without them, for messages.
server_address() {
  server_url=${SERVER_URL:-http://localhost:5000}
  server_url=${server_url%/}
  shown_url=$(printf '%s' "$server_url" | sed -E 's#^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@#\1#')
}

# backup_folder: sets backup_dir as backup.sh chooses it: BACKUP_DIR, else ~/syncapp-backups, or
# ./backup (the former default) while it holds archives and ~/syncapp-backups does not exist.
backup_folder() {
  if [ -n "${BACKUP_DIR:-}" ]; then
    backup_dir=$BACKUP_DIR
  elif [ ! -e "${HOME:-/nonexistent}/syncapp-backups" ] && [ -d ./backup/FULL ]; then
    backup_dir=./backup
  else
    backup_dir=${HOME:?set HOME or BACKUP_DIR}/syncapp-backups
  fi
}

# curl_config <file>: sets curlrc to <file> and writes there, readable by its owner only, the
# header with SYNCAPP_TOKEN: passed as a file, the token never shows in `ps`.
curl_config() {
  curlrc=$1
  : >"$curlrc"
  chmod 600 "$curlrc"
  if [ -n "${SYNCAPP_TOKEN:-}" ]; then
    local escaped=${SYNCAPP_TOKEN//\\/\\\\}
    printf 'header = "Authorization: Bearer %s"\n' "${escaped//\"/\\\"}" >>"$curlrc"
  fi
}

# server_call <failure status> <output> <curl args...>: prints the HTTP status. Exits 2 when the
# server cannot be reached or the connection is lost (LOST_HINT, if set, ends that message) and
# with <failure status> when curl fails otherwise.
server_call() {
  local failure=$1 out=$2 status=0 code
  shift 2
  code=$(curl --config "$curlrc" --connect-timeout 10 --output "$out" \
    --write-out '%{http_code}' "$@") || status=$?
  case $status in
    0 | 22) ;; # 22: --fail's HTTP error, which the status printed tells
    5 | 6 | 7 | 28 | 35)
      die 2 "cannot reach the backup server at $shown_url (curl exit status $status)" ;;
    18 | 52 | 55 | 56)
      die 2 "lost the connection to the backup server at $shown_url (curl exit status" \
        "$status)${LOST_HINT:-}" ;;
    *) die "$failure" "curl failed with exit status $status talking to $shown_url" ;;
  esac
  printf '%s' "$code"
}

# server_message <file>: the server's sentence (with its code), or the start of another answer.
server_message() {
  python3 - "$1" <<'PY'
import json, sys
try:
    raw = open(sys.argv[1], "rb").read()
except OSError:
    raw = b""
try:
    body = json.loads(raw)
    # `error` is the sentence on these routes (the original scripts print it), `code` the code
    text = isinstance(body, dict) and (body.get("message") or body.get("error"))
    code = isinstance(body, dict) and body.get("code")
    print(f"{text} ({code})" if text and code else text or raw.decode(errors="replace")[:300])
except ValueError:
    print(raw.decode(errors="replace").strip()[:300] or "(empty answer)")
PY
}
