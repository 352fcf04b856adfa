"""A replica of the Cordiax desktop client's Socket.IO sync (EuskadiTech/Cordiax, modules/sync.py
at 43e69ef), written anew with the GUI stubbed. It runs under the client's own python-socketio
(5.11, .peers/cordiax-client, see tests/clients/cordiax-requirements.txt), never the project's.

What it keeps exactly as the client does it:
- a plain `socketio.Client()` (default reconnection), handlers for connect / sync_request /
  disconnect registered on the configured namespace, and `connect(server_url)` with no
  `namespaces` argument (python-socketio then connects the namespaces it has handlers for);
- a push from the connect handler and one for every sync_request, each building its ZIP
  (`cordiax.db` plus `documentos/` and `pdfs/`) in a temporary file first, then reading it,
  and only then checking `client.connected`: when not connected it raises "No hay conexión
  SocketIO activa" inside the handler, as the client does, and nothing is sent;
- `emit('sync_data', {'data': <hex>}, namespace=...)` with no callback, and no timer of its own.

What is the test's own: the `log` lines go to stdout as JSON (the client shows them in its
window), and two observers, sync_ack and sync_error, on the same namespace (the client has none;
registering them there changes neither the namespaces it connects nor what it sends).

Usage: cordiax_client.py --url URL --namespace /cordiax-sync/ --data DIR [--clients N]
With --clients N, N clients run side by side, each on DIR/<i>/ with `&device=<device>-<i>`
appended to the URL. It runs until its stdin closes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import socketio

_print_lock = threading.Lock()


def report(client: str, event: str, **fields: object) -> None:
    with _print_lock:
        print(json.dumps({"client": client, "event": event, **fields}), flush=True)


class CordiaxSync:
    """The parts of Cordiax's SyncManager used in Socket.IO mode, encryption off."""

    def __init__(self, name: str, server_url: str, namespace: str, data_dir: Path) -> None:
        self.name = name
        self.config = {"socketio": {"server_url": server_url, "namespace": namespace}}
        self.user_data_dir = data_dir
        self.sio: socketio.Client | None = None
        self.sync_running = True

    def log(self, message: str) -> None:
        report(self.name, "log", message=message)

    def get_files_to_sync(self) -> Path | None:
        """The client's ZIP: cordiax.db, then documentos/ and pdfs/, in a temporary file."""
        temp_zip = tempfile.NamedTemporaryFile(delete=False, suffix=".zip")  # noqa: SIM115
        temp_zip.close()
        try:
            with zipfile.ZipFile(temp_zip.name, "w", zipfile.ZIP_DEFLATED) as zipf:
                db_file = self.user_data_dir / "cordiax.db"
                if db_file.exists():
                    zipf.write(db_file, "cordiax.db")
                    self.log("Añadido: cordiax.db")
                for dir_name in ("documentos", "pdfs"):
                    dir_path = self.user_data_dir / dir_name
                    if dir_path.exists():
                        count = 0
                        for root, _dirs, files in os.walk(dir_path):
                            for file in files:
                                path = Path(root) / file
                                zipf.write(path, os.path.relpath(path, self.user_data_dir))
                                count += 1
                        self.log(f"Añadidos {count} archivos de {dir_name}/")
            return Path(temp_zip.name)
        except Exception as exc:
            self.log(f"Error creando archivo de sincronización: {exc}")
            if os.path.exists(temp_zip.name):
                os.unlink(temp_zip.name)
            return None

    def sync_socketio_manual(self) -> None:
        sync_file = self.get_files_to_sync()
        if not sync_file:
            raise Exception("No se pudo crear el archivo de sincronización")
        try:
            with open(sync_file, "rb") as f:
                data = f.read()
            namespace = self.config["socketio"]["namespace"]
            if self.sio and self.sio.connected:
                self.log("Enviando datos al servidor SocketIO...")
                self.sio.emit("sync_data", {"data": data.hex()}, namespace=namespace)
                self.log("Datos sincronizados con SocketIO")
                report(self.name, "pushed", size=len(data))
            else:
                report(self.name, "not_connected")
                raise Exception("No hay conexión SocketIO activa")
        finally:
            if sync_file.exists():
                sync_file.unlink()

    def socketio_sync_loop(self) -> None:
        namespace = self.config["socketio"]["namespace"]
        try:
            self.sio = socketio.Client()

            @self.sio.on("connect", namespace=namespace)
            def on_connect():
                self.log("Conectado al servidor SocketIO")
                report(self.name, "connected")
                self.sync_socketio_manual()

            @self.sio.on("sync_request", namespace=namespace)
            def on_sync_request(data):
                self.log("Solicitud de sincronización recibida del servidor")
                report(self.name, "sync_request")
                self.sync_socketio_manual()

            @self.sio.on("disconnect", namespace=namespace)
            def on_disconnect():
                self.log("Desconectado del servidor SocketIO")
                report(self.name, "disconnected")

            # The test's observers (the client has none).
            self.sio.on(
                "sync_ack", lambda ack: report(self.name, "sync_ack", ack=ack), namespace=namespace
            )
            self.sio.on(
                "sync_error",
                lambda error: report(self.name, "sync_error", error=error),
                namespace=namespace,
            )

            self.sio.connect(self.config["socketio"]["server_url"])
            while self.sync_running:
                time.sleep(1)
        except Exception as exc:
            self.log(f"Error en SocketIO: {exc}")
            report(self.name, "loop_error", message=str(exc))
        finally:
            if self.sio and self.sio.connected:
                self.sio.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--namespace", default="/cordiax-sync/")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=0)
    parser.add_argument("--device", default="pc")
    args = parser.parse_args()
    # Handler exceptions (the "No hay conexión" one) are logged by python-socketio's own
    # loggers, as in the client; stderr keeps them for a failing test's report.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.clients:
        syncs = [
            CordiaxSync(
                f"{args.device}-{i}",
                f"{args.url}&device={args.device}-{i}",
                args.namespace,
                args.data / str(i),
            )
            for i in range(args.clients)
        ]
    else:
        syncs = [CordiaxSync(args.device, args.url, args.namespace, args.data)]
    for sync in syncs:
        threading.Thread(target=sync.socketio_sync_loop, daemon=True).start()
    sys.stdin.read()  # the test closes stdin to stop
    for sync in syncs:
        sync.sync_running = False


if __name__ == "__main__":
    main()
