"""Seed 001's messages in French, for requests whose Accept-Language prefers it.

Seed 001 documents its API twice, in English and in French, with the same messages in each
language ("Synchronized to ..." / "Synchronisé vers ..."). The services build the English text
(it is also what is stored in `last_error` and logged); the routes hand each message to
`localized` just before answering, which re-reads it against the English templates and, for a
French caller, writes the French one with the same values.
"""

from __future__ import annotations

import re
from typing import Any

from flask import has_request_context, request

from .nas import (
    ACCESSIBLE,
    DISK_FULL,
    NOT_ATTEMPTED,
    NOT_CONFIGURED,
    NOT_MOUNTED,
    NOT_WRITABLE,
    PATH_MISSING,
    SOURCE_MISSING,
    SYNCED_TO,
    UNKNOWN_REMOTE,
    UNREACHABLE,
)

DOCUMENT_NOT_FOUND = "Document {document_id} not found."

#: English template -> French. Seed 001's own French where it has one, word for word.
FRENCH: dict[str, str] = {
    NOT_CONFIGURED: (
        "Montage NAS non configuré. Définissez NAS_MOUNT_PATH et montez le partage SMB."
    ),
    PATH_MISSING: "Le chemin de montage n'existe pas: {path}",
    NOT_WRITABLE: "Le montage n'est pas accessible en écriture",
    NOT_WRITABLE + ": {detail}": "Le montage n'est pas accessible en écriture : {detail}",
    ACCESSIBLE: "Montage NAS accessible en lecture/écriture",
    SYNCED_TO: "Synchronisé vers {path}",
    SOURCE_MISSING: "Fichier source introuvable",
    DISK_FULL: "Espace disque : NAS plein, libérez de l'espace",
    DOCUMENT_NOT_FOUND: "Document {document_id} non trouvé.",
    NOT_MOUNTED: (
        "Le chemin de montage n'est pas un point de montage et ne contient pas de marqueur "
        "{marker} : {path}. Montez-y le partage SMB (les fichiers écrits maintenant iraient "
        "sur le disque local)."
    ),
    UNKNOWN_REMOTE: "NAS_REMOTE désigne un stockage enregistré inconnu : {name}",
    UNREACHABLE: "NAS distant injoignable : {error}",
    "NAS unavailable: {error}": "NAS indisponible : {error}",
    NOT_ATTEMPTED: "non tenté, le NAS a cessé de répondre",
}
#: "Document 42: <message>" in a run's `errors`: the prefix stays, the message is translated
_PER_DOCUMENT = re.compile(r"(Document \d+): (.+)", re.DOTALL)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)  # text, name, text, name, ..., text
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+)" for index, part in enumerate(parts)
    )
    return re.compile(regex, re.DOTALL)


_TEMPLATES = [(_pattern(english), french) for english, french in FRENCH.items()]


def prefers_french() -> bool:
    """The request's Accept-Language ranks French above English (fr, fr-FR, fr-CA ...)."""
    if not has_request_context():
        return False
    return request.accept_languages.best_match(["en", "fr"], default="en") == "fr"


def to_french(message: str) -> str:
    """`message` in French when it is one of the known ones, else unchanged."""
    found = _PER_DOCUMENT.fullmatch(message)
    if found:
        return f"{found.group(1)}: {to_french(found.group(2))}"
    for pattern, french in _TEMPLATES:
        matched = pattern.fullmatch(message)
        if matched:
            return french.format(**matched.groupdict())
    return message


def localized(message: Any) -> Any:
    """What the caller reads: French for a French request, as given otherwise."""
    if isinstance(message, str) and prefers_french():
        return to_french(message)
    return message
