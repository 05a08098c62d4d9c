"""The database schema: SQLAlchemy 2 typed declarative tables (FEATURES.md "Data model").

Tables
------
``analysis_session``  one row per analysis session (owner, status, params, input provenance,
                      timestamps, soft delete). Indexes (owner, created_at), (owner, status),
                      (task_key).
``analysis_input``    the input bytes exactly as received, 1:1 with a session, in their own
                      table so that listing sessions never loads file contents.
``compound``          one row per row of ``result.compounds``; key (session_id, input_row), the
                      only index, and no foreign key (both for bulk-load speed). A
                      typed column for every contract column, every recommended extra
                      (``core/schema.py``) and every column the default rules add; any other
                      column (carried-through input columns, ...) goes into the JSON ``extra``.
``analysis_model``    one row per row of ``result.models`` (``position`` keeps the order);
                      coefficient mappings in JSON columns.
``analysis_result``   1:1 with a completed session: statistics, warnings, provenance, the input
                      report and the small tables as JSON documents, plus ``layout`` (column
                      names, dtypes and key orders that make the round trip exact).
``audit_event``       append-only (triggers refuse UPDATE and DELETE on both databases);
                      ``session_id`` is deliberately not a foreign key, so events outlive a purge.

JSON columns are JSONB on Postgres; timestamps are timezone-aware UTC on both databases
(:class:`UTCDateTime`). Float columns are ``DOUBLE PRECISION`` (exact float64).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ACTIONS",
    "COMPOUND_FIELDS",
    "MODEL_FIELDS",
    "STATUSES",
    "AnalysisInput",
    "AnalysisModel",
    "AnalysisResultRow",
    "AnalysisSession",
    "AuditEvent",
    "Base",
    "Compound",
    "JSONType",
    "UTCDateTime",
    "metadata",
]

#: Life cycle of an analysis session (FEATURES.md B1).
STATUSES: tuple[str, ...] = ("pending", "running", "completed", "failed", "cancelled")
#: Audit actions (FEATURES.md "Data model", audit_event).
ACTIONS: tuple[str, ...] = (
    "created", "params_changed", "renamed", "queued", "started", "completed", "failed",
    "cancelled", "exported", "deleted", "restored", "purged", "rerun", "cleanup",
)

#: JSON everywhere, JSONB on Postgres.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database.

    Postgres stores ``timestamptz``; SQLite stores the UTC wall time as text and gets its
    ``tzinfo`` back on load. Naive datetimes are refused (their zone would be a guess).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"A stored timestamp must be timezone-aware. Got {value!r} instead.")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {
        int: Integer(),
        float: Double(),
        bool: Boolean(),
        str: Text(),
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        bytes: LargeBinary(),
    }


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AnalysisSession(Base):
    """One analysis session (FEATURES.md B1, H1)."""

    __tablename__ = "analysis_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))  # indexed by (owner, created_at)
    name: Mapped[str | None] = mapped_column(String(255))
    data_type: Mapped[str] = mapped_column(String(32))
    chromatography: Mapped[str] = mapped_column(String(32), server_default="reversed_phase")
    status: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]]
    mode: Mapped[str] = mapped_column(String(32))
    package_version: Mapped[str] = mapped_column(String(64))
    environment: Mapped[dict[str, Any]]
    input_filename: Mapped[str | None] = mapped_column(String(1024))
    input_format: Mapped[str] = mapped_column(String(16))
    input_size: Mapped[int] = mapped_column(BigInteger)
    input_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error_message: Mapped[str | None]
    task_key: Mapped[str | None] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_session.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        Index("ix_analysis_session_owner_created_at", "owner", "created_at"),
        Index("ix_analysis_session_owner_status", "owner", "status"),
        Index("ix_analysis_session_task_key", "task_key"),
    )


class AnalysisInput(Base):
    """The input file of a session, byte for byte."""

    __tablename__ = "analysis_input"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_session.id", ondelete="CASCADE"), primary_key=True)
    raw_bytes: Mapped[bytes]


class Compound(Base):
    """One row of ``result.compounds`` (ALGORITHM.md §7). Every data column is nullable: a
    result from a custom rules tuple may lack some columns (``layout`` says which exist).

    Bulk-load speed decides two things here (measured with 1M rows on Postgres 15): the only
    index is the primary key (session_id, input_row), which also serves every per-session
    query (FEATURES.md also lists (session_id, status|category|prefix); the three together
    made the COPY ~65 % slower), and ``session_id`` is not a foreign key (Postgres checks it
    per row with a trigger: another ~65 %). The repository writes compound rows only in the
    transaction that claims their session, and ``purge`` deletes them explicitly.
    """

    __tablename__ = "compound"

    session_id: Mapped[int] = mapped_column(primary_key=True)
    input_row: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # contract columns
    name: Mapped[str | None]
    rt: Mapped[float | None]
    volume: Mapped[float | None]
    log_p: Mapped[float | None]
    is_anchor: Mapped[bool | None]
    prefix: Mapped[str | None]
    base_class: Mapped[str | None]
    category: Mapped[str | None]
    sialic_acids: Mapped[int | None]
    sugar_count: Mapped[int | None]
    status: Mapped[str | None]
    predicted_rt: Mapped[float | None]
    pi_low: Mapped[float | None]
    pi_high: Mapped[float | None]
    residual: Mapped[float | None]
    z: Mapped[float | None]
    model: Mapped[str | None]
    n_anchors_model: Mapped[int | None]
    reason: Mapped[str | None]
    flags: Mapped[str | None]
    parent_row: Mapped[int | None] = mapped_column(BigInteger)
    consolidated_volume: Mapped[float | None]
    confidence: Mapped[float | None]
    # recommended extras
    confidence_level: Mapped[str | None]
    core_class: Mapped[str | None]
    isomer: Mapped[str | None]
    neutral_sugars: Mapped[int | None]
    n_oac: Mapped[int | None]
    n_dhex: Mapped[int | None]
    n_hex: Mapped[int | None]
    n_hexnac: Mapped[int | None]
    n_neuac: Mapped[int | None]
    n_neugc: Mapped[int | None]
    a_component: Mapped[int | None]
    b_component: Mapped[int | None]
    oxygen: Mapped[float | None]
    ceramide: Mapped[str | None]
    n_anchors_prefix: Mapped[int | None]
    isomer_series: Mapped[str | None]
    isomer_type: Mapped[str | None]
    rule4_status: Mapped[str | None]
    predictive_sd: Mapped[float | None]
    lipid_maps_name: Mapped[str | None]
    formula: Mapped[str | None]
    mass: Mapped[float | None]
    # columns added by the default rules (Rules 4, 5 and 9)
    rule5_event: Mapped[int | None] = mapped_column(BigInteger)
    oac_shift: Mapped[float | None]
    cross_comparisons: Mapped[int | None]
    cross_contradictions: Mapped[int | None]
    # every other column of result.compounds, as {column: value}
    extra: Mapped[dict[str, Any] | None]


#: result.compounds column -> compound table column (the typed ones; in result order).
COMPOUND_FIELDS: dict[str, str] = {
    "row": "input_row", "Name": "name", "RT": "rt", "Volume": "volume", "Log P": "log_p",
    "Anchor": "is_anchor", "prefix": "prefix", "base_class": "base_class", "category": "category",
    "sialic_acids": "sialic_acids", "sugar_count": "sugar_count", "status": "status",
    "predicted_rt": "predicted_rt", "pi_low": "pi_low", "pi_high": "pi_high",
    "residual": "residual", "z": "z", "model": "model", "n_anchors_model": "n_anchors_model",
    "reason": "reason", "flags": "flags", "parent_row": "parent_row",
    "consolidated_volume": "consolidated_volume", "confidence": "confidence",
    "confidence_level": "confidence_level", "core_class": "core_class", "isomer": "isomer",
    "neutral_sugars": "neutral_sugars", "n_OAc": "n_oac", "n_dHex": "n_dhex", "n_Hex": "n_hex",
    "n_HexNAc": "n_hexnac", "n_NeuAc": "n_neuac", "n_NeuGc": "n_neugc", "a": "a_component",
    "b": "b_component", "oxygen": "oxygen", "ceramide": "ceramide",
    "n_anchors_prefix": "n_anchors_prefix", "isomer_series": "isomer_series",
    "isomer_type": "isomer_type", "rule4_status": "rule4_status", "predictive_sd": "predictive_sd",
    "lipid_maps_name": "lipid_maps_name", "formula": "formula", "mass": "mass",
    "rule5_event": "rule5_event", "oac_shift": "oac_shift",
    "cross_comparisons": "cross_comparisons", "cross_contradictions": "cross_contradictions",
}


class AnalysisModel(Base):
    """One row of ``result.models``; ``position`` is its row number there."""

    __tablename__ = "analysis_model"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_session.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str | None]
    mode: Mapped[str | None]
    scope: Mapped[str | None]
    features: Mapped[str | None]
    coefficients: Mapped[dict[str, Any] | None]
    intercept: Mapped[float | None]
    coefficients_standardized: Mapped[dict[str, Any] | None]
    intercept_standardized: Mapped[float | None]
    scaler_mean: Mapped[dict[str, Any] | None]
    scaler_scale: Mapped[dict[str, Any] | None]
    n_anchors: Mapped[int | None]
    n_rows: Mapped[int | None] = mapped_column(BigInteger)
    validation: Mapped[str | None]
    r2: Mapped[float | None]
    rmse: Mapped[float | None]
    mae: Mapped[float | None]
    max_error: Mapped[float | None]
    train_r2: Mapped[float | None]
    adjusted_r2: Mapped[float | None]
    alpha_noise_precision: Mapped[float | None]
    lambda_weight_precision: Mapped[float | None]
    ridge_penalty: Mapped[float | None]
    sigma_all_rows: Mapped[float | None]
    noise_sd: Mapped[float | None]
    noise_scale: Mapped[float | None]
    base_class_sd: Mapped[float | None]
    prefix_sd: Mapped[float | None]
    logp_slope_sd: Mapped[float | None]
    accepted: Mapped[str | None]
    reason: Mapped[str | None]
    warnings: Mapped[str | None]
    extra: Mapped[dict[str, Any] | None]


#: result.models column -> analysis_model column (same names; the typed ones).
MODEL_FIELDS: dict[str, str] = {name: name for name in (
    "model", "mode", "scope", "features", "coefficients", "intercept", "coefficients_standardized",
    "intercept_standardized", "scaler_mean", "scaler_scale", "n_anchors", "n_rows", "validation",
    "r2", "rmse", "mae", "max_error", "train_r2", "adjusted_r2", "alpha_noise_precision",
    "lambda_weight_precision", "ridge_penalty", "sigma_all_rows", "noise_sd", "noise_scale",
    "base_class_sd", "prefix_sd", "logp_slope_sd", "accepted", "reason", "warnings")}


class AnalysisResultRow(Base):
    """The non-row parts of a completed result, as JSON documents."""

    __tablename__ = "analysis_result"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_session.id", ondelete="CASCADE"), primary_key=True)
    statistics: Mapped[dict[str, Any]]
    warnings: Mapped[list[Any]]
    provenance: Mapped[dict[str, Any]]
    input_report: Mapped[dict[str, Any]]
    oac_pairs: Mapped[dict[str, Any]]
    fragment_events: Mapped[dict[str, Any]]
    validation: Mapped[dict[str, Any]]
    layout: Mapped[dict[str, Any]]


class AuditEvent(Base):
    """Append-only trail: who did what to which session, and when."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int | None]  # not a foreign key: events outlive a purge
    owner: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    details: Mapped[dict[str, Any]]
    package_version: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(_in("action", ACTIONS), name="action"),
        Index("ix_audit_event_owner_session_id", "owner", "session_id"),
        Index("ix_audit_event_session_id", "session_id"),
    )
