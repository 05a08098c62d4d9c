"""Record the column chemistry of every session (FEATURES.md H9).

Revision ID: 0002_chromatography
Revises: 0001_initial
Create Date: 2026-11-29

Existing sessions were analysed under the reversed-phase premise, so they get that value.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_chromatography"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN on both backends (no SQLite table rebuild: dropping the old table would
    # fire the ON DELETE actions of the tables that reference sessions)
    op.add_column("analysis_session", sa.Column("chromatography", sa.String(32), nullable=False,
                                                server_default="reversed_phase"))


def downgrade() -> None:
    op.drop_column("analysis_session", "chromatography")
