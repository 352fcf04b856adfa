#!/bin/sh
# The container's entrypoint (deploy/Dockerfile):
#   serve    migrate (unless SYNCAPP_MIGRATE=false), then gunicorn with deploy/gunicorn.conf.py
#   migrate  only: the database migration, the S3 stored remotes, the first administrator
#   other    run it as given (e.g. `flask --app app users create ...`)
#
# SYNCAPP_S3_STORES="backups cordiax documents cloud" makes one stored remote per store, named
# s3-<store>, from the S3_* variables (S3_BUCKET, S3_ENDPOINT_URL, S3_REGION, S3_ACCESS_KEY_ID,
# S3_SECRET_ACCESS_KEY, S3_ADDRESSING_STYLE: the s3 backend's setting names) with the prefix
# <store>; point the app at them with SYNCAPP_BACKUPS_REMOTE=s3-backups and so on. It runs on
# every start and only updates what changed, so rotating a key is: change S3_*, restart.
set -eu
cd "$(dirname "$0")/.."

migrate() {
    flask --app app db upgrade
    for store in ${SYNCAPP_S3_STORES:-}; do
        flask --app app remotes create "s3-$store" --kind s3 --env-prefix S3_ \
            --set "prefix=$store" --update
    done
    # First start only: an administrator, whose password and token are printed once.
    flask --app app bootstrap
}

command="${1:-serve}"
case "$command" in
    migrate)
        migrate
        ;;
    serve)
        if [ "${SYNCAPP_MIGRATE:-true}" != "false" ]; then
            migrate
        fi
        exec gunicorn --config deploy/gunicorn.conf.py app:app
        ;;
    *)
        exec "$@"
        ;;
esac
