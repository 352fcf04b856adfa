#!/usr/bin/env bash
# Make a FULL, INC or DIFF archive of a folder with GNU tar's --listed-incremental snapshots.
set -euo pipefail

PROG=$(basename "$0")

usage() {
  cat <<EOF
Usage: $PROG [--upload] <profile> <dir> [FULL|INC|DIFF]

Archive <dir> into \$BACKUP_DIR/<TYPE>/<type>_YYYY-MM-DD_HH-MM-SS.tar.gz (GNU tar, gzip).
  FULL  everything (the default)
  INC   changes since the last backup of this profile, whatever its type
  DIFF  changes since the last FULL of this profile
A suffix (_2, _3, ...) is added when the name is already taken. <archive>.md5 is written
beside each archive. GNU tar's snapshot files are kept per profile in
\$BACKUP_DIR/.snapshots/<profile>/; INC and DIFF need a FULL of the same folder first.
To restore: extract the FULL, then the DIFF and/or INCs in order, each with
  tar --extract --listed-incremental=/dev/null --file <archive> -C <target>
(restore.sh does it from the server).

  --upload    then send the profile's new archives to the server: upload.sh <profile> --all
              (beside this script), with SERVER_URL / SYNCAPP_TOKEN as upload.sh reads them

Environment:
  BACKUP_DIR     where archives go (default: \$HOME/syncapp-backups; ./backup, the former
                 default, while it holds an earlier run's archives and ~/syncapp-backups does not
                 exist)
  SERVER_URL, SYNCAPP_TOKEN  used by --upload only (see upload.sh -h)

Exit status: 0 on success, 1 on failure, 64 on a usage error; with --upload, upload.sh's.
EOF
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

usage_error() {
  echo "$PROG: $*" >&2
  echo "Try '$PROG -h'." >&2
  exit 64
}

upload=no
args=()
for arg in "$@"; do
  case $arg in
    -h | --help) usage; exit 0 ;;
    --upload) upload=yes ;;
    -?*) usage_error "unknown option '$arg'" ;;
    *) args+=("$arg") ;;
  esac
done
set -- ${args[@]+"${args[@]}"}
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage_error "expected <profile> <dir> [FULL|INC|DIFF]"; fi

profile=$1
source_dir=$2
kind=$(printf '%s' "${3:-FULL}" | tr '[:lower:]' '[:upper:]')
case $kind in FULL | INC | DIFF) ;; *) usage_error "unknown backup type '$3': use FULL, INC or DIFF" ;; esac
# The same rule as the server's, and the profile names a folder here: no '/' or '..'.
[[ $profile =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] ||
  usage_error "invalid profile '$profile': up to 64 letters, digits, '.', '_' and '-'"
[ -d "$source_dir" ] || die "'$source_dir' is not a folder"
case $(tar --version 2>/dev/null) in
  *"GNU tar"*) ;;
  *) die "GNU tar is needed (--listed-incremental)" ;;
esac

source_dir=$(cd "$source_dir" && pwd -P)
# Never into the current folder by default (that was often the syncapp checkout): ~/syncapp-backups,
# unless ./backup holds an earlier run's chain, whose INCs must go on from its snapshots.
if [ -n "${BACKUP_DIR:-}" ]; then
  backup_dir=$BACKUP_DIR
elif [ ! -e "${HOME:-/nonexistent}/syncapp-backups" ] && [ -d ./backup/FULL ]; then
  backup_dir=./backup
  echo "$PROG: note: using ./backup, the former default; set BACKUP_DIR to choose" >&2
else
  backup_dir=${HOME:?set HOME or BACKUP_DIR}/syncapp-backups
fi
mkdir -p "$backup_dir/$kind"
backup_dir=$(cd "$backup_dir" && pwd -P)
dest=$backup_dir/$kind
state=$backup_dir/.snapshots/$profile
mkdir -p "$state"

# One backup per profile at a time: two would race on the snapshot files.
if command -v flock >/dev/null; then
  exec 9>"$state/lock"
  flock 9
fi

if [ "$kind" != FULL ]; then
  if [ ! -f "$state/full.snar" ] || [ ! -f "$state/last.snar" ]; then
    die "no FULL backup of profile '$profile' yet: run '$PROG $profile $2 FULL' first"
  fi
  recorded=$(cat "$state/source" 2>/dev/null || true)
  [ "$recorded" = "$source_dir" ] ||
    die "profile '$profile' backs up '$recorded', not '$source_dir': make a FULL first"
fi

work=$(mktemp -d "$dest/.backup.XXXXXX")
trap 'rm -rf "$work"' EXIT
snapshot=$work/snapshot.snar
case $kind in
  INC) cp "$state/last.snar" "$snapshot" ;;  # level n+1 on top of whatever ran last
  DIFF) cp "$state/full.snar" "$snapshot" ;; # always level 1 on top of the FULL
esac

tar_args=(--create --gzip --file "$work/archive.tar.gz" --listed-incremental "$snapshot"
  --no-check-device --directory "$source_dir")
# Never archive the archives when BACKUP_DIR lies inside the folder being saved.
case $backup_dir/ in
  "$source_dir"/*) tar_args+=(--anchored --exclude "./${backup_dir#"$source_dir"/}") ;;
esac
status=0
tar "${tar_args[@]}" . || status=$?
# 1 means some files changed while being read: the archive is still valid, as tar says.
[ "$status" -le 1 ] || die "tar failed (exit status $status); no archive was kept"
[ "$status" -eq 0 ] || echo "$PROG: warning: some files changed while being archived" >&2

# Claim the final name with link(2), which fails if it exists: unique even within one second.
stem=$(printf '%s' "$kind" | tr '[:upper:]' '[:lower:]')_$(date +%Y-%m-%d_%H-%M-%S)
name=$stem.tar.gz
n=1
until ln "$work/archive.tar.gz" "$dest/$name" 2>/dev/null; do
  n=$((n + 1))
  [ "$n" -le 1000 ] || die "cannot create an archive in $dest"
  name=${stem}_$n.tar.gz
done
(cd "$dest" && md5sum "$name" >"$name.md5")

# The snapshots move on only once the archive is in place.
if [ "$kind" = FULL ]; then
  cp "$snapshot" "$state/full.snar.new"
  mv "$state/full.snar.new" "$state/full.snar"
  printf '%s\n' "$source_dir" >"$state/source"
fi
mv "$snapshot" "$state/last.snar"

size=$(stat -c %s "$dest/$name")
echo "$kind backup of $source_dir (profile $profile): $dest/$name ($size bytes)"

if [ "$upload" = yes ]; then
  # the lock is not needed any more, and upload.sh must not inherit it
  exec 9>&-
  trap - EXIT
  rm -rf "$work"
  BACKUP_DIR=$backup_dir exec "$(dirname "$0")/upload.sh" "$profile" --all
fi
