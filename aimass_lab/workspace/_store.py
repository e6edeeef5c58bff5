"""The metadata store: SQLAlchemy 2 tables, schema versions and migrations.

SQLite (WAL, busy timeout) by default; PostgreSQL by URL. A newer release migrates an
older workspace forward; an older release refuses a newer workspace with a clear message.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from aimass_lab.errors import SchemaVersionError, WorkspaceError

__all__ = [
    "SCHEMA_VERSION",
    "AlertRow",
    "AliasRow",
    "Base",
    "DataSourceRow",
    "ChallengeRow",
    "DatasetRow",
    "DeploymentRow",
    "GroupMemberRow",
    "JobRow",
    "MetricRow",
    "ModelVersionRow",
    "SourceGrantRow",
    "Store",
    "UserGroupRow",
    "UploadRow",
    "SubmissionRow",
    "normalize_db_url",
    "utcnow",
]

#: The schema this release writes. Bump it and add a migration to change the tables.
SCHEMA_VERSION = 5


def utcnow() -> dt.datetime:
    """Timezone-aware UTC now (stored naive-UTC for portability across backends)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class MetaRow(Base):
    __tablename__ = "aimass_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class DatasetRow(Base):
    __tablename__ = "datasets"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class JobRow(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    exit_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # schema 2: progress in [0, 1] for progress bars and ETAs
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    parent_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    # schema 5: who started the job (``current_user()``) and from which kernel, if any
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kernel_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class MetricRow(Base):
    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_job_name_step", "job_id", "name", "step"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value: Mapped[float] = mapped_column(Float)
    ts: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_model_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL"), nullable=True
    )
    model_spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    data_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hparams: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class AliasRow(Base):
    __tablename__ = "model_aliases"
    model_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))


class DeploymentRow(Base):
    """A deployment (schema 3): an endpoint of the workspace's inference server."""

    __tablename__ = "deployments"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # running (served), stopped (unloaded by stop()), failed (the server or the load failed)
    state: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # the DeploySpec of the last deploy
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the "serve" job
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)  # the server's base URL
    # [{"version": "3", "ref": "digits:3", "model_version_id": 7, "deployed_at": ISO}]
    versions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    split: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"3": 90, "4": 10}
    previous_split: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # [{"at": ISO, "action": "deploy"|"split"|"rollback"|"stop", ...}], newest last
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class AlertRow(Base):
    """An alert's change of state (schema 4): a rule of a deployment fired or resolved."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_deployment_at", "deployment", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # firing | resolved
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float] = mapped_column(Float)
    op: Mapped[str] = mapped_column(String(8))
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the watcher
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# issue 17 part 2: named data sources and who may read them (no secret is ever stored here)
class DataSourceRow(Base):
    """A named data source: a ``DataSourceSpec`` and the user who owns it."""

    __tablename__ = "data_sources"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # location + credential *reference*
    owner: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SourceGrantRow(Base):
    """Read access to a data source for ``user:NAME`` or ``group:NAME``."""

    __tablename__ = "source_grants"
    source: Mapped[str] = mapped_column(
        ForeignKey("data_sources.name", ondelete="CASCADE"), primary_key=True
    )
    principal: Mapped[str] = mapped_column(String(210), primary_key=True)
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class UserGroupRow(Base):
    """A workspace group (its members are ``GroupMemberRow``); its owner manages it."""

    __tablename__ = "user_groups"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))


class GroupMemberRow(Base):
    __tablename__ = "group_members"
    group: Mapped[str] = mapped_column(
        ForeignKey("user_groups.name", ondelete="CASCADE"), primary_key=True
    )
    member: Mapped[str] = mapped_column(String(200), primary_key=True)


class UploadRow(Base):
    """A resumable upload session (issue 17 part 4; a schema 5 table): see ``_uploads``."""

    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # model | dataset
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)  # the total, declared at create
    sha256: Mapped[str] = mapped_column(String(64))  # the expected digest
    received: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes stored and fsync'd
    state: Mapped[str] = mapped_column(String(16), index=True)  # open|done|failed|aborted|expired
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ChallengeRow(Base):
    """A workshop challenge (schema 5): a dataset, a metric and a hidden test split."""

    __tablename__ = "challenges"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))  # who created it: may freeze and reset
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # the ChallengeSpec
    # {"digest": sha256 of the hidden rows (Parquet), "rows": n, "target": ..., "features": [...]}
    hidden: Mapped[dict[str, Any]] = mapped_column(JSON)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SubmissionRow(Base):
    """A model scored on a challenge's hidden split (schema 5)."""

    __tablename__ = "challenge_submissions"
    __table_args__ = (Index("ix_submissions_challenge_score", "challenge", "score"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    challenge: Mapped[str] = mapped_column(
        ForeignKey("challenges.name", ondelete="CASCADE"), index=True
    )
    participant: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(300))  # the model version's ref, "name:version"
    score: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="scored")
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --------------------------------------------------------------------------------- migrations
def _migrate_1_to_2(conn: Connection) -> None:
    """Schema 2 adds ``jobs.progress`` (fraction done, for progress bars and ETAs)."""
    columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
    if "progress" not in columns:
        conn.execute(text("ALTER TABLE jobs ADD COLUMN progress FLOAT"))


def _migrate_2_to_3(conn: Connection) -> None:
    """Schema 3 adds the ``deployments`` table (endpoints of the inference server)."""
    DeploymentRow.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def _migrate_3_to_4(conn: Connection) -> None:
    """Schema 4 adds the ``alerts`` table (alert history of the ``alerts`` watcher jobs)."""
    AlertRow.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]


def _migrate_4_to_5(conn: Connection) -> None:
    """Schema 5 (workshops and teams) adds ``jobs.owner`` and ``jobs.kernel_id``.

    Its new tables are created by ``create_all`` after the migrations."""
    columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
    for name, sql_type in (("owner", "VARCHAR(200)"), ("kernel_id", "VARCHAR(64)")):
        if name not in columns:
            conn.execute(text(f"ALTER TABLE jobs ADD COLUMN {name} {sql_type}"))


#: ``MIGRATIONS[n]`` upgrades a store from schema ``n`` to ``n + 1``.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
    3: _migrate_3_to_4,
    4: _migrate_4_to_5,
}


def normalize_db_url(url: str) -> str:
    """Choose the psycopg 3 driver for bare ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def redact_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _engine(url: str) -> Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
            _ENGINES[url] = engine
        return engine


class Store:
    """The workspace's metadata store.

    Parameters
    ----------
    url
        A SQLAlchemy URL: ``sqlite:///path/aimass.db`` or ``postgresql://user@host/db``.
    """

    def __init__(self, url: str) -> None:
        self.url = normalize_db_url(url)
        try:
            self.engine = _engine(self.url)
        except Exception as exc:  # bad URL, missing driver
            raise WorkspaceError(f"cannot use database URL {redact_url(self.url)}: {exc}") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._open()

    # -- schema -----------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(724242)"))
                version = self._read_version(conn)
                if version is None:
                    Base.metadata.create_all(conn)
                    conn.execute(
                        insert(MetaRow).values(key="schema_version", value=str(SCHEMA_VERSION))
                    )
                    return
                if version > SCHEMA_VERSION:
                    from aimass_lab._version import __version__

                    raise SchemaVersionError(
                        f"this workspace uses store schema {version}, written by a newer AI Mass Lab; "
                        f"aimass-lab {__version__} reads schema {SCHEMA_VERSION} and older. "
                        "Upgrade with: pip install -U aimass-lab"
                    )
                while version < SCHEMA_VERSION:
                    MIGRATIONS[version](conn)
                    version += 1
                Base.metadata.create_all(conn)  # tables added by newer schemas
                conn.execute(
                    update(MetaRow)
                    .where(MetaRow.key == "schema_version")
                    .values(value=str(version))
                )
        except OperationalError as exc:
            raise WorkspaceError(
                f"cannot open the workspace database {redact_url(self.url)}: {exc.orig}"
            ) from None

    @staticmethod
    def _read_version(conn: Connection) -> int | None:
        if not inspect(conn).has_table(MetaRow.__tablename__):
            return None
        row = conn.execute(select(MetaRow.value).where(MetaRow.key == "schema_version")).scalar()
        return int(row) if row is not None else None

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the store."""
        with self.engine.connect() as conn:
            version = self._read_version(conn)
        return version or 0

    # -- sessions ---------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        """Close the pooled connections of this URL (in this process)."""
        with _ENGINES_LOCK:
            _ENGINES.pop(self.url, None)
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name
