"""Shapes of /api/v1/status, /api/v1/metrics and /api/v1/logs."""

from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, ValidationError, fields, validate

from ..syncs.models import FILE_STATES, JOB_STATES, RUN_STATUSES

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _counts(names: tuple[str, ...], description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.OneOf(names)),
        values=fields.Integer(),
        metadata={"description": description},
    )


class SchedulerInfo(Schema):
    role = fields.String(
        metadata={"enum": ["leader", "follower", "not_started", "disabled", "testing"]}
    )
    enabled = fields.Boolean()
    leader = fields.Boolean(metadata={"description": "This process holds the leader lock"})
    scheduler_running = fields.Boolean()
    dispatcher_running = fields.Boolean(metadata={"description": "Sync jobs run in this process"})
    pid = fields.Integer()
    leader_elsewhere = fields.Boolean()
    leader_pid = fields.Integer(allow_none=True)


class ScheduledJobRun(Schema):
    host = fields.String()
    pid = fields.Integer()
    started_at = fields.String()
    finished_at = fields.String(allow_none=True)
    outcome = fields.String(metadata={"enum": ["running", "ok", "failed"]})
    error = fields.String(allow_none=True)


class ServiceStatus(Schema):
    status = fields.String(metadata={"enum": ["running"]})
    version = fields.String()
    pid = fields.Integer()
    started_at = fields.String()
    uptime_seconds = fields.Float()
    time = fields.String()
    scheduler = fields.Nested(SchedulerInfo)
    jobs_total = fields.Integer()
    jobs_by_state = _counts(JOB_STATES, "Your jobs (administrators: all jobs) by state")
    queue_length = fields.Integer(metadata={"description": "Files in the jobs' queues"})
    scheduled_jobs = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ScheduledJobRun),
        metadata={"description": "Administrators: each scheduled job's last run and its process"},
    )


class _Sums(Schema):
    files_copied = fields.Integer()
    files_failed = fields.Integer(metadata={"description": "Failed copy attempts"})
    files_skipped = fields.Integer()
    files_deleted = fields.Integer()
    bytes_copied = fields.Integer()
    queue_length = fields.Integer()
    runs = _counts(RUN_STATUSES, "Runs by status")


class JobMetrics(_Sums):
    job_id = fields.Integer()
    name = fields.String()
    state = fields.String(metadata={"enum": list(JOB_STATES)})
    last_run_status = fields.String(allow_none=True)
    last_run_finished_at = fields.String(allow_none=True)
    last_run_duration = fields.Float(allow_none=True, metadata={"description": "Seconds"})
    queue = _counts(FILE_STATES, "Queued files by state")


class MetricTotals(_Sums):
    jobs = fields.Integer()


class SyncMetrics(Schema):
    time = fields.String()
    jobs = fields.List(fields.Nested(JobMetrics))
    totals = fields.Nested(MetricTotals)


def _level(value: str) -> None:
    if value.upper() not in LEVELS:
        raise ValidationError(f"Must be one of {', '.join(LEVELS)}.")


class LogQuery(Schema):
    level = fields.String(
        validate=_level, metadata={"description": "Minimum level", "enum": list(LEVELS)}
    )
    job = fields.Integer(
        metadata={"description": "Only records of this sync job (404 if it is not yours)"}
    )
    since = fields.AwareDateTime(
        default_timezone=UTC, metadata={"description": "ISO 8601 time (UTC if no offset)"}
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class LogRecord(Schema):
    time = fields.String()
    level = fields.String()
    logger = fields.String()
    message = fields.String()
    request_id = fields.String()
    owner = fields.Integer(
        metadata={"description": "The user whose things the record is about; absent: the service's"}
    )
    job = fields.Raw()
    event = fields.Raw()
    path = fields.Raw()
    exception = fields.String(metadata={"description": "Administrators only"})


class LogList(Schema):
    records = fields.List(fields.Nested(LogRecord))
    count = fields.Integer()
    buffer_size = fields.Integer(metadata={"description": "monitoring.log_buffer_size"})
