"""Run a sync job in a separate process that freezes after a few files, to be killed with SIGKILL.

Usage: python -m tests.syncs.crash_run <settings.json> <job id> <marker file> <count>
(it freezes after <count> files are recorded)
The marker file is written once the freeze begins, so the test knows when to kill.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from syncapp import create_app
from syncapp.syncs.runner import run_now


def main() -> None:
    settings_file, job_id, marker, limit = sys.argv[1:5]
    app = create_app(json.loads(Path(settings_file).read_text()))
    seen = []

    def freeze_after_some(outcome, job) -> None:
        seen.append(outcome)
        if len(seen) >= int(limit):
            Path(marker).write_text("frozen")
            threading.Event().wait()  # until SIGKILL

    with app.app_context():
        run_now(int(job_id), on_outcome=freeze_after_some)


if __name__ == "__main__":
    main()
