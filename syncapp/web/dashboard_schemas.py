"""The shape of GET /api/v1/dashboard (syncapp.web.dashboard.summary)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..cloud.schemas import CloudJobStatus
from ..fields import UtcDateTime
from ..syncs.schemas import RunInfo, SyncJobInfo

BYTES = {"description": "bytes"}


def _by(keys: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": keys}
    )


class Verification(Schema):
    verified_at = UtcDateTime()
    sync_status = fields.String(validate=validate.OneOf(("SYNCHRONIZED", "OUT_OF_SYNC")))
    synced = fields.Integer()
    missing = fields.Integer(metadata={"description": "Names the client has and the server not"})
    mismatched = fields.Integer()


class ArchiveBrief(Schema):
    name = fields.String()
    size = fields.Integer(metadata=BYTES)
    md5 = fields.String()
    uploaded_at = UtcDateTime()


class BackupProfile(Schema):
    profile = fields.String()
    owner = fields.String(allow_none=True, metadata={"description": "Shown to administrators"})
    archives = fields.Integer()
    size = fields.Integer(metadata=BYTES)
    counts = _by("archives per type: FULL, INC, DIFF")
    last_upload = UtcDateTime()
    last_full = fields.Nested(ArchiveBrief, allow_none=True)
    broken_chains = fields.Integer(metadata={"description": "INC/DIFF whose FULL is not stored"})
    verification = fields.Nested(
        Verification,
        allow_none=True,
        metadata={"description": "The last POST /verify naming this profile's archives"},
    )


class Backups(Schema):
    profiles = fields.List(fields.Nested(BackupProfile))
    archives = fields.Integer()
    size = fields.Integer(metadata=BYTES)


class SnapshotBrief(Schema):
    version = fields.String()
    received_at = UtcDateTime()
    size = fields.Integer(metadata=BYTES)
    kind = fields.String()
    encrypted = fields.Boolean()


class Device(Schema):
    device = fields.String()
    owner = fields.String(allow_none=True, metadata={"description": "Shown to administrators"})
    versions = fields.Integer()
    size = fields.Integer(metadata=BYTES)
    last_snapshot = fields.Nested(SnapshotBrief)


class Cordiax(Schema):
    devices = fields.List(fields.Nested(Device))
    snapshots = fields.Integer()


class Documents(Schema):
    nas_configured = fields.Boolean(
        metadata={
            "description": "Whether a NAS target is set (documents.nas_mount_path or nas_remote)"
        }
    )
    total = fields.Integer()
    synced = fields.Integer()
    pending = fields.Integer()
    failed = fields.Integer(metadata={"description": "Not synced, and the last attempt failed"})
    sync_percentage = fields.Float()
    size = fields.Integer(metadata=BYTES)


class AttentionJob(SyncJobInfo):
    class Meta:
        fields = ("id", "name", "state", "last_error", "last_run_at")


class LastRun(Schema):
    job = fields.String(metadata={"description": "The job's name"})
    run = fields.Nested(RunInfo)


class Syncs(Schema):
    jobs = fields.Integer()
    by_state = _by("jobs per state: idle, queued, running, stopped, waiting_destination, error")
    attention = fields.List(
        fields.Nested(AttentionJob),
        metadata={"description": "Jobs in error or waiting for their destination"},
    )
    last_run = fields.Nested(
        LastRun, allow_none=True, metadata={"description": "The last finished"}
    )


class CloudJobBrief(CloudJobStatus):
    filename = fields.String()
    owner = fields.String(allow_none=True, metadata={"description": "Shown to administrators"})


class Cloud(Schema):
    files = fields.Integer()
    by_status = _by("replication jobs per status: pending, running, completed, failed")
    active = fields.Integer(metadata={"description": "Jobs pending or running"})
    jobs = fields.List(fields.Nested(CloudJobBrief), metadata={"description": "Newest first"})
    open_conflicts = fields.Integer()


class Storage(Schema):
    by_type = _by("bytes per type: FULL, INC, DIFF (backups), cordiax, documents, cloud")
    total = fields.Integer(metadata=BYTES)


class Event(Schema):
    time = UtcDateTime()
    source = fields.String(
        validate=validate.OneOf(("backups", "cordiax", "documents", "syncs", "cloud"))
    )
    event = fields.String(metadata={"description": "The /events name it corresponds to"})
    level = fields.String(validate=validate.OneOf(("ok", "info", "warning", "error")))
    title = fields.String()
    detail = fields.String()
    size = fields.Integer(allow_none=True, metadata=BYTES)
    key = fields.String(
        allow_none=True,
        metadata={"description": "syncs-<job id> on a run's end: a repeat updates its line"},
    )
    run_id = fields.Integer(allow_none=True, metadata={"description": "On a run's start"})


class Line(Schema):
    key = fields.String(metadata={"description": "A storage type, or a kind of transfer"})
    data = fields.List(fields.Integer(), metadata={"description": "bytes, one per label"})


class Series(Schema):
    labels = fields.List(fields.String(), metadata={"description": "UTC days, or UTC hours"})
    series = fields.List(fields.Nested(Line))


class Charts(Schema):
    storage = fields.Nested(
        Series, metadata={"description": "Bytes stored at the end of each of the last 30 days"}
    )
    transfers = fields.Nested(
        Series, metadata={"description": "Bytes moved in each of the last 24 hours (UTC)"}
    )


class FailingCheck(Schema):
    check = fields.String(metadata={"description": "database, scheduler"})
    detail = fields.String(metadata={"description": "Why it failed"})


class DashboardHealth(Schema):
    status = fields.String(
        validate=validate.OneOf(("ok", "error")),
        metadata={"description": "error while GET /api/v1/health answers 503"},
    )
    failing = fields.List(fields.Nested(FailingCheck))


TILE_STATES = ("ok", "warning", "error", "none")


class Dashboard(Schema):
    generated_at = UtcDateTime()
    scope = fields.String(
        validate=validate.OneOf(("own", "all")),
        metadata={"description": "all: an administrator's view (every user's things)"},
    )
    health = fields.Nested(DashboardHealth)
    tiles = fields.Dict(
        keys=fields.String(),
        values=fields.String(validate=validate.OneOf(TILE_STATES)),
        metadata={"description": "Each tile's state: backups, cordiax, documents, syncs, cloud"},
    )
    backups = fields.Nested(Backups)
    cordiax = fields.Nested(Cordiax)
    documents = fields.Nested(Documents)
    syncs = fields.Nested(Syncs)
    cloud = fields.Nested(Cloud)
    storage = fields.Nested(Storage)
    events = fields.List(fields.Nested(Event), metadata={"description": "Newest first"})
    charts = fields.Nested(Charts)
