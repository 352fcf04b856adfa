#!/bin/bash
# Replica of seed 003's original verify_sync.sh (MrKazar/save-shell-project), rewritten for the
# tests: the local list is built by string concatenation as the original did, POSTed to /verify
# with the same curl flags, and read with the same jq filters; the verdict is "Synchronisation
# OK" only when sync_status is SYNCHRONIZED. Logging to files and colours are left out.
set -euo pipefail

SERVER_URL="${SERVER_URL:-http://localhost:5000}"
BACKUP_DIR="${BACKUP_DIR:-./backup}"

local_json() {
    local out="{" sep_kind="" kind sep archive size sum
    for kind in FULL INC DIFF; do
        out+="$sep_kind\"$kind\":["
        sep_kind=","
        sep=""
        if [[ -d $BACKUP_DIR/$kind ]]; then
            for archive in "$BACKUP_DIR/$kind"/*.tar.gz; do
                [[ -f $archive ]] || continue
                size=$(stat -c%s "$archive")
                sum=$(md5sum "$archive" | awk '{print $1}')
                out+="$sep{\"name\":\"$(basename "$archive")\",\"size\":$size,\"md5\":\"$sum\"}"
                sep=","
            done
        fi
        out+="]"
    done
    echo "$out}"
}

echo "[INFO] Vérification de la synchronisation..."
answer=$(curl -s -X POST "$SERVER_URL/verify" -H "Content-Type: application/json" \
    -d "{\"local_backups\": $(local_json)}")

echo "$answer" | jq -r '.verification | to_entries[] |
    "\n\(.value.type)\n" +
    "  Local:  \(.value.local_count) backups\n" +
    "  Remote: \(.value.remote_count) backups\n" +
    "  Synced: \(.value.synced | length) fichiers"' 2>/dev/null

problems=$(echo "$answer" | jq -r '.issues[]' 2>/dev/null)
if [[ -n $problems ]]; then
    echo "[WARN] Problèmes détectés :"
    while IFS= read -r line; do echo "  -> $line"; done <<<"$problems"
fi

verdict=$(echo "$answer" | jq -r '.sync_status' 2>/dev/null)
if [[ $verdict == "SYNCHRONIZED" ]]; then
    echo "[SUCCESS] Synchronisation OK"
else
    echo "[WARN] Hors de synchronisation"
fi
