"""Initial schema: sessions, inputs, compounds, models, results and the append-only audit trail.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-28

Frozen copy of ``persistence/tables.py`` at this revision (a migration never imports the live
models). ``tests/persistence/test_migrations.py`` checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
STATUSES = ("pending", "running", "completed", "failed", "cancelled")
ACTIONS = ("created", "params_changed", "renamed", "queued", "started", "completed", "failed",
           "cancelled", "exported", "deleted", "restored", "purged", "rerun", "cleanup")

_I, _B, _F, _T, _BOOL = sa.Integer, sa.BigInteger, sa.Double, sa.Text, sa.Boolean
COMPOUND_COLUMNS = (
    ("name", _T), ("rt", _F), ("volume", _F), ("log_p", _F), ("is_anchor", _BOOL), ("prefix", _T),
    ("base_class", _T), ("category", _T), ("sialic_acids", _I), ("sugar_count", _I), ("status", _T),
    ("predicted_rt", _F), ("pi_low", _F), ("pi_high", _F), ("residual", _F), ("z", _F), ("model", _T),
    ("n_anchors_model", _I), ("reason", _T), ("flags", _T), ("parent_row", _B),
    ("consolidated_volume", _F), ("confidence", _F), ("confidence_level", _T), ("core_class", _T),
    ("isomer", _T), ("neutral_sugars", _I), ("n_oac", _I), ("n_dhex", _I), ("n_hex", _I),
    ("n_hexnac", _I), ("n_neuac", _I), ("n_neugc", _I), ("a_component", _I), ("b_component", _I),
    ("oxygen", _F), ("ceramide", _T), ("n_anchors_prefix", _I), ("isomer_series", _T),
    ("isomer_type", _T), ("rule4_status", _T), ("predictive_sd", _F), ("lipid_maps_name", _T),
    ("formula", _T), ("mass", _F), ("rule5_event", _B), ("oac_shift", _F), ("cross_comparisons", _I),
    ("cross_contradictions", _I),
)
MODEL_COLUMNS = (
    ("model", _T), ("mode", _T), ("scope", _T), ("features", _T), ("coefficients", JSON),
    ("intercept", _F), ("coefficients_standardized", JSON), ("intercept_standardized", _F),
    ("scaler_mean", JSON), ("scaler_scale", JSON), ("n_anchors", _I), ("n_rows", _B),
    ("validation", _T), ("r2", _F), ("rmse", _F), ("mae", _F), ("max_error", _F), ("train_r2", _F),
    ("adjusted_r2", _F), ("alpha_noise_precision", _F), ("lambda_weight_precision", _F),
    ("ridge_penalty", _F), ("sigma_all_rows", _F), ("noise_sd", _F), ("noise_scale", _F),
    ("base_class_sd", _F), ("prefix_sd", _F), ("logp_slope_sd", _F), ("accepted", _T),
    ("reason", _T), ("warnings", _T),
)

_APPEND_ONLY = "audit_event is append-only: UPDATE and DELETE are refused"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "analysis_session",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("data_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("package_version", sa.String(64), nullable=False),
        sa.Column("environment", JSON, nullable=False),
        sa.Column("input_filename", sa.String(1024)),
        sa.Column("input_format", sa.String(16), nullable=False),
        sa.Column("input_size", sa.BigInteger, nullable=False),
        sa.Column("input_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("error_message", sa.Text),
        sa.Column("task_key", sa.String(255)),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey(
            "analysis_session.id", ondelete="SET NULL",
            name="fk_analysis_session_parent_id_analysis_session")),
        sa.Column("deleted_at", TS),
        sa.Column("deleted_by", sa.String(255)),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_analysis_session_status"),
        sa.PrimaryKeyConstraint("id", name="pk_analysis_session"),
    )
    op.create_index("ix_analysis_session_owner_created_at", "analysis_session", ["owner", "created_at"])
    op.create_index("ix_analysis_session_owner_status", "analysis_session", ["owner", "status"])
    op.create_index("ix_analysis_session_task_key", "analysis_session", ["task_key"])

    op.create_table(
        "analysis_input",
        sa.Column("session_id", sa.Integer, sa.ForeignKey(
            "analysis_session.id", ondelete="CASCADE",
            name="fk_analysis_input_session_id_analysis_session"), nullable=False),
        sa.Column("raw_bytes", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_analysis_input"),
    )

    # compound: the primary key is its only index and session_id is not a foreign key (bulk-load
    # speed; see persistence/tables.py)
    op.create_table(
        "compound",
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("input_row", sa.BigInteger, nullable=False),
        *(sa.Column(name, kind) for name, kind in COMPOUND_COLUMNS),
        sa.Column("extra", JSON),
        sa.PrimaryKeyConstraint("session_id", "input_row", name="pk_compound"),
    )

    op.create_table(
        "analysis_model",
        sa.Column("session_id", sa.Integer, sa.ForeignKey(
            "analysis_session.id", ondelete="CASCADE",
            name="fk_analysis_model_session_id_analysis_session"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        *(sa.Column(name, kind) for name, kind in MODEL_COLUMNS),
        sa.Column("extra", JSON),
        sa.PrimaryKeyConstraint("session_id", "position", name="pk_analysis_model"),
    )

    op.create_table(
        "analysis_result",
        sa.Column("session_id", sa.Integer, sa.ForeignKey(
            "analysis_session.id", ondelete="CASCADE",
            name="fk_analysis_result_session_id_analysis_session"), nullable=False),
        *(sa.Column(name, JSON, nullable=False) for name in (
            "statistics", "warnings", "provenance", "input_report", "oac_pairs", "fragment_events",
            "validation", "layout")),
        sa.PrimaryKeyConstraint("session_id", name="pk_analysis_result"),
    )

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("package_version", sa.String(64), nullable=False),
        sa.CheckConstraint(_in("action", ACTIONS), name="ck_audit_event_action"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_event"),
    )
    op.create_index("ix_audit_event_owner_session_id", "audit_event", ["owner", "session_id"])
    op.create_index("ix_audit_event_session_id", "audit_event", ["session_id"])

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        # the table documents of large results are packed (base64): compressing them on TOAST
        # costs time for little gain
        for column in ("oac_pairs", "fragment_events", "validation"):
            op.execute(f"ALTER TABLE analysis_result ALTER COLUMN {column} SET STORAGE EXTERNAL")
        op.execute(
            "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$")
        op.execute("CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
                   "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()")
        op.execute("CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()")
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                       f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    for table in ("audit_event", "analysis_result", "analysis_model", "compound", "analysis_input",
                  "analysis_session"):
        op.drop_table(table)
