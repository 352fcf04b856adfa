#!/bin/bash
# Replica of seed 003's original upload.sh (MrKazar/save-shell-project, backup-system/upload.sh),
# rewritten for the tests: same curl call, same success rule (HTTP 201 only), same jq filters,
# same messages. Logging to files and colours are left out. Usage: upload.sh <profile>
set -euo pipefail

SERVER_URL="${SERVER_URL:-http://localhost:5000}"
BACKUP_DIR="${BACKUP_DIR:-$(cd "$(dirname "$0")" && pwd)/backup}"

say() { echo "[$1] $2"; }
complain() { echo "[ERROR] $1" >&2; }

[[ $# -ge 1 ]] || { complain "Usage: $0 <profile> [--all]"; exit 1; }
profile=$1

[[ -d $BACKUP_DIR ]] || { complain "Dossier de backup non trouvé : $BACKUP_DIR"; exit 1; }
if ! curl -s "$SERVER_URL/" >/dev/null 2>&1; then
    complain "Serveur indisponible : $SERVER_URL"
    exit 1
fi
say SUCCESS "Serveur disponible"

send() { # <archive> <type>: the original's upload_file
    local archive=$1 kind=$2 answer status reply
    say INFO "Upload de $kind : $(basename "$archive")"
    answer=$(curl -s -w "\n%{http_code}" -F "file=@$archive" -F "type=$kind" \
        -F "profile=$profile" "$SERVER_URL/upload")
    status=$(echo "$answer" | tail -n1)
    reply=$(echo "$answer" | sed '$d')
    if [[ $status == "201" ]]; then
        say SUCCESS "Upload réussi : $(basename "$archive")"
        echo "$reply" | jq -r '.md5' >"$(dirname "$archive")/$(basename "$archive" .tar.gz).md5" \
            2>/dev/null || true
        return 0
    fi
    complain "Erreur upload (HTTP $status) : $(basename "$archive")"
    echo "$reply" | jq -r '.error // .message' 2>/dev/null || echo "$reply"
    return 1
}

total=0 done_count=0
for kind in FULL INC DIFF; do
    [[ -d $BACKUP_DIR/$kind ]] || continue
    for archive in "$BACKUP_DIR/$kind"/*.tar.gz; do
        [[ -f $archive ]] || continue
        total=$((total + 1))
        if send "$archive" "$kind"; then done_count=$((done_count + 1)); fi
    done
done
echo
say INFO "Résumé : $done_count/$total fichiers uploadés"
