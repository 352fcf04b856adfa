"""gunicorn settings for syncapp: `gunicorn -c deploy/gunicorn.conf.py app:app`.

Values come from syncapp's own settings (config.yaml, SYNCAPP_* and HOST/PORT), so one place
configures both the app and the server.
"""

import gc
import os

from gunicorn.glogging import Logger

from syncapp.config import load_settings
from syncapp.httpworker import HeadFirstWorker
from syncapp.logs import redact

_server = load_settings()["server"]

bind = f"{_server['host']}:{_server['port']}"
# One process per host: Socket.IO sessions live in the process that accepted them (threading
# mode). Scale out with more processes behind nginx (sticky) and a Redis message queue.
workers = _server["workers"]
# gthread, except that request heads are read in the event loop with a deadline
# (server.header_timeout): a client sending half a request holds no thread (syncapp/httpworker.py).
worker_class = "syncapp.httpworker.HeadFirstWorker"
HeadFirstWorker.header_timeout = float(_server["header_timeout"])
worker_connections = _server["max_connections"]
# Every WebSocket client holds a thread under gthread: keep this above clients + requests.
threads = _server["threads"]
# gthread's timeout is the worker's heartbeat (a hung process), not a per-request limit: a 500 MB
# upload over a slow link runs as long as it keeps sending. 600 s only bounds a truly stuck worker.
timeout = 600
# On SIGTERM (systemctl stop/restart, a rolling deploy) requests in flight get this long to end.
graceful_timeout = 60
keepalive = 5
# The heartbeat file is touched every second: keep it in memory (a busy or overlay disk, as in
# containers, can otherwise stall it long enough for the master to kill a healthy worker).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "syncapp"
# X-Forwarded-Proto is trusted from these addresses only when syncapp itself trusts a proxy
# (server.trusted_proxies, applied by werkzeug's ProxyFix); with 0 nobody may claim https.
# Several hosts or containers: FORWARDED_ALLOW_IPS=<nginx address or network>.
forwarded_allow_ips = (
    os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1") if _server["trusted_proxies"] else ""
)
# The control socket under ~/.gunicorn is not needed and collides between test servers.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# %(h)s is the peer (nginx when proxied); the X-Forwarded-For column names the client then.
access_log_format = '%(h)s %({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms'


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


# glibc's mallopt() parameters (malloc.h) and the values the worker uses.
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8
MALLOC_ARENAS = 2
MALLOC_MMAP_THRESHOLD = 256 * 1024


def tune_malloc() -> None:
    """Make the worker give memory back after large requests (glibc only; the environment's
    MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_, read by glibc at start-up, win).

    - Arenas: threads that allocate at once get arenas of their own (up to 8 per core), each
      keeping what was freed in it; with a thread per WebSocket client that multiplies what is
      kept. Two are enough here.
    - mmap threshold: blocks above it are mmap'ed and unmapped when freed, but glibc raises the
      threshold to the largest block freed so far (up to 32 MiB), after which multi-MB push and
      upload buffers come from the heap and stay there. A fixed threshold stops that.
    In bench/load.py (one process; 100 clients pushing 1 MiB and 20 uploading 10 MiB at once)
    RSS after the first round was 1228 MiB with 2 arenas and 546 MiB with the fixed threshold
    too (docs/benchmarks.md, "Load and soak"). Applied in the forked worker before it starts
    threads, so scripts/serve, systemd and containers all get it."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if "MALLOC_ARENA_MAX" not in os.environ:
            libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
        if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
            libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        pass


def post_fork(server, worker):
    tune_malloc()


def post_request(worker, req, environ, resp):
    """After an upload, the freed memory goes back to the system (syncapp/memory.py)."""
    from syncapp.memory import after_request

    after_request(environ)


def post_worker_init(worker):
    """Crash recovery and the scheduler start in the serving process, never in CLI commands.
    A stop (SIGTERM) closes the worker's WebSockets at once (syncapp/shutdown.py) instead of
    waiting the graceful timeout out for clients that never leave."""
    from syncapp import run_startup_tasks
    from syncapp.shutdown import close_sockets_on_sigterm

    run_startup_tasks(worker.wsgi)
    close_sockets_on_sigterm()
    # The app's own objects (modules, mappers, routes, schemas) live as long as the worker: out
    # of the collector's generations, a full collection (which a request building 10,000 rows
    # triggers) does not walk them again each time.
    gc.freeze()
