#!/bin/bash
# Replica of seed 003's original download.sh (MrKazar/save-shell-project), rewritten for the
# tests: GET /list read with the original's jq filter, each archive fetched with `curl -s -f`
# into $BACKUP_DIR/<TYPE>/. Usage: download.sh <profile> [--all | --type FULL|INC|DIFF]
set -euo pipefail

SERVER_URL="${SERVER_URL:-http://localhost:5000}"
BACKUP_DIR="${BACKUP_DIR:-$(cd "$(dirname "$0")" && pwd)/backup}"

fetch() { # <type> <name>
    mkdir -p "$BACKUP_DIR/$1"
    if curl -s -f "$SERVER_URL/download/$1/$2" -o "$BACKUP_DIR/$1/$2"; then
        echo "[SUCCESS] Téléchargé : $2"
        return 0
    fi
    echo "[ERROR] Échec du téléchargement : $2" >&2
    return 1
}

[[ $# -ge 1 ]] || { echo "[ERROR] Usage: $0 <profile> [--all|--type TYPE]" >&2; exit 1; }
shift
total=0 got=0
if [[ $# -eq 0 || $1 == "--all" ]]; then
    while IFS='|' read -r kind name; do
        total=$((total + 1))
        if fetch "$kind" "$name"; then got=$((got + 1)); fi
    done < <(curl -s "$SERVER_URL/list" |
        jq -r '.backups | to_entries[] | .key as $type | .value[] | "\($type)|\(.name)"' 2>/dev/null)
else
    kind=$2
    names=$(curl -s "$SERVER_URL/list/$kind" | jq -r '.backups[].name' 2>/dev/null)
    while IFS= read -r name; do
        [[ -n $name ]] || continue
        total=$((total + 1))
        if fetch "$kind" "$name"; then got=$((got + 1)); fi
    done <<<"$names"
fi
echo "[INFO] Résumé : $got/$total fichiers téléchargés"
