"""What the code knows about its own checkout: the version and the repository's folder."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

#: the repository root: templates/, static/, migrations/, remote_backups/, instance/
PROJECT_ROOT = Path(__file__).resolve().parent.parent
