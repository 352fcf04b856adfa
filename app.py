"""Entry point: `gunicorn app:app` in production, `python app.py` for a development server."""

from syncapp import create_app
from syncapp.extensions import socketio

app = create_app()

if __name__ == "__main__":
    from syncapp import run_startup_tasks

    run_startup_tasks(app)
    settings = app.config["SYNCAPP"]["server"]
    socketio.run(app, host=settings["host"], port=settings["port"], allow_unsafe_werkzeug=True)
