"""gunicorn settings for syncapp: `gunicorn -c deploy/gunicorn.conf.py app:app`.

Values come from syncapp's own settings (config.yaml, SYNCAPP_* and HOST/PORT), so one place
configures both the app and the server.
"""

from gunicorn.glogging import Logger

from syncapp.config import load_settings
from syncapp.logs import redact

_server = load_settings()["server"]

bind = f"{_server['host']}:{_server['port']}"
# One process per host: Socket.IO sessions live in the process that accepted them (threading
# mode). Scale out with more processes behind nginx (sticky) and a Redis message queue.
workers = _server["workers"]
worker_class = "gthread"
# Every WebSocket client holds a thread under gthread: keep this above clients + requests.
threads = _server["threads"]
# Long enough for a 500 MB upload over a slow link; gthread only times out a stuck worker.
timeout = 600
graceful_timeout = 30
keepalive = 5
# The control socket under ~/.gunicorn is not needed and collides between test servers.
control_socket_disable = True
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


class RedactingLogger(Logger):
    """Access lines go through syncapp's redaction: WebSocket clients may send their token as
    `?token=` (browsers cannot set headers there), and it must not land in the log."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q"):
            if atoms.get(key):
                atoms[key] = redact(atoms[key])
        return atoms


logger_class = RedactingLogger


def post_worker_init(worker):
    """Crash recovery and the scheduler start in the serving process, never in CLI commands."""
    from syncapp import run_startup_tasks

    run_startup_tasks(worker.wsgi)
