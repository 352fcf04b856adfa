#!/usr/bin/env bash
# Restore a backup profile's folder as it was at a point in time, from syncapp's backup server.
set -euo pipefail

PROG=$(basename "$0")

usage() {
  cat <<EOF
Usage: $PROG <profile> [--at TIME] [--to DIR] [--work DIR] [--keep] [--owner USER]

Rebuild the folder that backup.sh saved under <profile> as it was at TIME:
  1. ask the server for the restore plan (GET /api/v1/backups/<profile>/restore-plan):
     the latest FULL stored at or before TIME, then the DIFF and INCs made after it;
  2. download those archives into the work folder, resuming partial downloads (curl -C -);
  3. check every archive's size and MD5 against the plan; if any differs, stop there:
     nothing is extracted;
  4. extract them in order with GNU tar --listed-incremental=/dev/null (files deleted between
     backups are deleted again), keeping modes and symbolic links.

Options:
  --at TIME   the point in time (default: now); anything GNU date -d reads, e.g.
              2026-12-07T10:00:00Z, '2026-12-07 10:00' (local time), 'yesterday 18:00'.
              Compared with the times the archives were uploaded to the server.
  --to DIR    where to restore (default: \$HOME/syncapp-restores/<profile>_<time>); it must
              not exist or be empty: the restore deletes what the backup did not have.
              The folder appears only when the whole chain is extracted.
  --work DIR  where downloads are kept between runs, so that a re-run resumes them
              (default: \$XDG_CACHE_HOME/syncapp-restore/<profile>, or ~/.cache/...)
  --keep      keep the downloaded archives after a successful restore
  --owner USER  administrators: restore another user's profile (their id or email)
  -h, --help  this help

Environment:
  SERVER_URL     the server (default: http://localhost:5000); may carry credentials,
                 e.g. http://backup:<token>@host:5000 (sent as HTTP Basic)
  SYNCAPP_TOKEN  API token, sent as 'Authorization: Bearer' when set

Exit status: 0 restored, 1 failure (nothing to restore, a corrupt archive, an MD5 mismatch,
tar failed), 2 when the server cannot be reached, 3 when it refuses the credentials,
64 on a usage error.
EOF
}

# shellcheck source=client_lib.sh
source "$(dirname "$(readlink -f "$0")")/client_lib.sh"

say() { echo "$PROG: $*" >&2; }

# --- arguments ----------------------------------------------------------------------------------

for arg in "$@"; do
  case $arg in -h | --help) usage; exit 0 ;; esac
done
profile= at= target= work= keep=0 owner=
while [ $# -gt 0 ]; do
  case $1 in
    --at | --to | --work | --owner)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case $1 in --at) at=$2 ;; --to) target=$2 ;; --work) work=$2 ;; --owner) owner=$2 ;; esac
      shift 2 ;;
    --at=*) at=${1#*=}; shift ;;
    --to=*) target=${1#*=}; shift ;;
    --work=*) work=${1#*=}; shift ;;
    --owner=*) owner=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      [ -z "$profile" ] || usage_error "one profile only ('$profile', then '$1')"
      profile=$1; shift ;;
  esac
done
[ -n "$profile" ] || usage_error "expected <profile>"
[[ $profile =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] ||
  usage_error "invalid profile '$profile': up to 64 letters, digits, '.', '_' and '-'"
command -v curl >/dev/null || die 1 "curl is needed"
command -v python3 >/dev/null || die 1 "python3 is needed (to read the server's JSON)"
case $(tar --version 2>/dev/null) in
  *"GNU tar"*) ;;
  *) die 1 "GNU tar is needed (--listed-incremental)" ;;
esac

if [ -n "$at" ]; then
  # GNU date reads the many ways to write a time (a time without a zone is local, as for
  # backup.sh's names); the server gets it in UTC with its zone, so nothing is guessed twice.
  at_utc=$(date -u -d "$at" +%Y-%m-%dT%H:%M:%S.%6NZ 2>/dev/null) ||
    usage_error "cannot read the time '$at' (try 2026-12-07T10:00:00Z)"
else
  at_utc=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
fi
stamp=$(date -u -d "$at_utc" +%Y-%m-%d_%H-%M-%S)

if [ -z "$target" ]; then
  target=$HOME/syncapp-restores/${profile}_$stamp
fi
if [ -e "$target" ] || [ -L "$target" ]; then
  [ -d "$target" ] && [ ! -L "$target" ] || die 1 "'$target' exists and is not a folder"
  [ -z "$(ls -A "$target")" ] ||
    die 1 "'$target' is not empty: restore into a new or empty folder (--to DIR)"
fi
default_work=0
if [ -z "$work" ]; then
  work=${XDG_CACHE_HOME:-$HOME/.cache}/syncapp-restore/$profile
  default_work=1
fi

server_address

tmp=$(mktemp -d)
staging=
cleanup() {
  rm -rf "$tmp"
  [ -z "$staging" ] || rm -rf "$staging"
}
trap cleanup EXIT
curl_config "$tmp/curlrc"
LOST_HINT=": run $PROG again to resume"

# curl_to <output> <curl args...>: prints the HTTP status; exits 2 if the server is unreachable.
curl_to() {
  server_call 1 "$@" --speed-limit 1 --speed-time 120 --silent --show-error
}

# --- the plan -----------------------------------------------------------------------------------

owner_query=()
[ -z "$owner" ] || owner_query=(--data-urlencode "owner=$owner")
code=$(curl_to "$tmp/plan.json" --get --header "Accept: application/json" \
  --data-urlencode "at=$at_utc" "${owner_query[@]}" \
  "$server_url/api/v1/backups/$profile/restore-plan")
case $code in
  200) ;;
  401 | 403)
    die 3 "the server at $shown_url refused the credentials (HTTP $code):" \
      "$(server_message "$tmp/plan.json") - set SYNCAPP_TOKEN or put the token in SERVER_URL" ;;
  404) die 1 "nothing to restore: $(server_message "$tmp/plan.json")" ;;
  *) die 1 "the restore plan: HTTP $code: $(server_message "$tmp/plan.json")" ;;
esac
# One line per archive: step, type, name, size, md5, download path (names are checked: the
# server accepts only [A-Za-z0-9._+-] in them, and this refuses anything else it might send).
python3 - "$tmp/plan.json" >"$tmp/plan.tsv" 2>"$tmp/plan.err" <<'PY' ||
import json, re, sys
plan = json.load(open(sys.argv[1]))
if not plan.get("archives"):
    sys.exit("the plan lists no archive")
for problem in plan.get("problems") or []:
    print(f"problem\t{problem}")
for a in plan["archives"]:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,200}\.tar\.gz", a["name"]) or a[
        "type"
    ] not in ("FULL", "INC", "DIFF") or not re.fullmatch(r"[0-9a-f]{32}", a["md5"]) or not (
        str(a["download_path"]).startswith("/download/") and isinstance(a["size"], int)
    ):
        sys.exit(f"unexpected archive in the plan: {a!r}")
    print("\t".join(str(a[k]) for k in ("step", "type", "name", "size", "md5", "download_path")))
PY
  die 1 "the server's restore plan is not what was expected: $(cat "$tmp/plan.err")"

if grep -q '^problem' "$tmp/plan.tsv"; then
  while IFS=$'\t' read -r kind text; do
    [ "$kind" = problem ] && say "$text"
  done <"$tmp/plan.tsv"
  die 1 "the server says this chain cannot be restored as it is; nothing was downloaded"
fi

count=$(wc -l <"$tmp/plan.tsv")
say "restoring profile '$profile' as of $at_utc from $shown_url: $count archive(s)"
while IFS=$'\t' read -r step kind name size _md5 _path; do
  say "  $step. $kind/$name ($size bytes)"
done <"$tmp/plan.tsv"

# --- download, resuming -------------------------------------------------------------------------

mkdir -p "$work" || die 1 "cannot create the work folder '$work'"
work=$(cd "$work" && pwd -P)

while IFS=$'\t' read -r step kind name size md5 path; do
  file=$work/$kind-$name
  have=$(stat -c %s "$file" 2>/dev/null || echo 0)
  if [ "$have" -gt "$size" ]; then
    rm -f "$file" # not the archive the plan names: start again
    have=0
  fi
  if [ "$have" -eq "$size" ]; then
    say "have $kind/$name"
    continue
  fi
  [ "$have" -eq 0 ] && say "download $kind/$name" || say "resume $kind/$name at byte $have"
  # --fail: an error's body is not appended to the archive
  code=$(curl_to "$file" --fail --continue-at - "$server_url$path")
  case $code in
    200 | 206) ;;
    401 | 403) die 3 "the server at $shown_url refused the credentials for $kind/$name (HTTP $code)" ;;
    *) die 1 "downloading $kind/$name: HTTP $code" ;;
  esac
done <"$tmp/plan.tsv"

# --- check everything before extracting anything ------------------------------------------------

bad=0
while IFS=$'\t' read -r step kind name size md5 path; do
  file=$work/$kind-$name
  have=$(stat -c %s "$file" 2>/dev/null || echo 0)
  got=$(md5sum <"$file" 2>/dev/null | cut -d' ' -f1) || got=unreadable
  if [ "$have" != "$size" ]; then
    say "SIZE MISMATCH $kind/$name: $have bytes, the plan says $size"
    bad=$((bad + 1))
  elif [ "$got" != "$md5" ]; then
    say "MD5 MISMATCH $kind/$name: got $got, the server recorded $md5"
    bad=$((bad + 1))
  else
    say "md5 ok $kind/$name"
    continue
  fi
  rm -f "$file" # a re-run downloads it again
done <"$tmp/plan.tsv"
[ "$bad" -eq 0 ] ||
  die 1 "$bad archive(s) do not match their checksums; nothing was extracted" \
    "(the server's copy may be damaged: see its /verify and integrity checks)"

# --- extract, in order --------------------------------------------------------------------------

parent=$(dirname "$target")
mkdir -p "$parent" || die 1 "cannot create '$parent'"
staging=$(mktemp -d "$parent/.restore-$profile.XXXXXX")
while IFS=$'\t' read -r step kind name size md5 path; do
  say "extract $step/$count $kind/$name"
  # --listed-incremental=/dev/null: apply the folder listings too (deletions, renames);
  # --preserve-permissions: the modes as saved, whatever the umask
  tar --extract --gzip --listed-incremental=/dev/null --preserve-permissions \
    --file "$work/$kind-$name" --directory "$staging" ||
    die 1 "tar failed on $kind/$name; nothing was restored to '$target'"
done <"$tmp/plan.tsv"
# The folder appears whole or not at all.
if [ -d "$target" ]; then rmdir "$target" || die 1 "'$target' is no longer empty"; fi
mv "$staging" "$target" || die 1 "cannot move the restored folder to '$target'"
staging=

if [ "$keep" -eq 0 ]; then
  while IFS=$'\t' read -r step kind name size md5 path; do
    rm -f "$work/$kind-$name"
  done <"$tmp/plan.tsv"
  [ "$default_work" -eq 0 ] || rmdir "$work" 2>/dev/null || true
fi
say "restored profile '$profile' as of $at_utc into $target"
