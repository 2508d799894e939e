"""registrar's desk: registration requests in rounds, serial counters per region and year

Contracts already asked for or given registration get a request of one round (pending or
registered); each (region, year) counter starts at the highest serial its registration numbers use,
so the next number cannot repeat one given before.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTRACT_TYPES = ("development", "transfer", "license", "consulting", "service")
CONTRACT_SUBTYPES = (
    "commissioned_development",
    "cooperative_development",
    "patent_right",
    "patent_application_right",
    "technical_secret",
    "exclusive_license",
    "sole_license",
    "ordinary_license",
    "technical_secret_license",
    "consulting",
    "technical_service",
    "technical_training",
    "technical_intermediary",
)


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="SET NULL")


def upgrade() -> None:
    op.create_table(
        "registration_counters",
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region", "year", name=op.f("pk_registration_counters")),
    )
    op.create_table(
        "registration_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "returned", "registered", "refused", name="registrationstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_income_fen", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.Enum(*CONTRACT_TYPES, name="contracttype", native_enum=False, length=16), nullable=True),
        sa.Column(
            "subtype", sa.Enum(*CONTRACT_SUBTYPES, name="contractsubtype", native_enum=False, length=32), nullable=True
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("refusal_reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("registration_number", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_registration_requests_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        _user_fk("registration_requests", "requested_by"),
        _user_fk("registration_requests", "decided_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_requests")),
    )
    with op.batch_alter_table("registration_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_requests_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_requests_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_requests_submitted_at"), ["submitted_at"], unique=False)
    op.create_table(
        "registration_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("terms_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_by", sa.Integer(), nullable=True),
        sa.Column("return_note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["registration_requests.id"],
            name=op.f("fk_registration_rounds_request_id_registration_requests"),
            ondelete="CASCADE",
        ),
        _user_fk("registration_rounds", "submitted_by"),
        _user_fk("registration_rounds", "returned_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_rounds")),
        sa.UniqueConstraint("request_id", "round", name=op.f("uq_registration_rounds_request_id_round")),
    )
    with op.batch_alter_table("registration_rounds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_rounds_request_id"), ["request_id"], unique=False)
    _backfill()


def _backfill() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(
        "INSERT INTO registration_requests (contract_id, status, round, requested_at, submitted_at, decided_at, "
        "decided_by, registration_number, updated_at) "
        "SELECT id, CASE WHEN registered_at IS NOT NULL THEN 'registered' ELSE 'pending' END, 1, "
        "COALESCE(registration_requested_at, registered_at), COALESCE(registration_requested_at, registered_at), "
        "registered_at, registered_by, registration_number, updated_at FROM contracts "
        "WHERE registration_requested_at IS NOT NULL OR registered_at IS NOT NULL"
    )
    empty = "CAST('[]' AS JSON)" if postgres else "'[]'"
    op.execute(
        "INSERT INTO registration_rounds (request_id, round, submitted_at, terms_digest, items) "
        f"SELECT r.id, 1, r.submitted_at, COALESCE(c.seller_signed_digest, c.registered_digest), {empty} "
        "FROM registration_requests r JOIN contracts c ON c.id = r.contract_id"
    )
    digits = "registration_number ~ '^[0-9]{16}$'" if postgres else "registration_number GLOB '" + "[0-9]" * 16 + "'"
    op.execute(
        "INSERT INTO registration_counters (region, year, last_serial) "
        "SELECT substr(registration_number, 5, 6), CAST(substr(registration_number, 1, 4) AS INTEGER), "
        "MAX(CAST(substr(registration_number, 11, 6) AS INTEGER)) "
        f"FROM contracts WHERE {digits} "
        "GROUP BY substr(registration_number, 5, 6), CAST(substr(registration_number, 1, 4) AS INTEGER)"
    )


def downgrade() -> None:
    with op.batch_alter_table("registration_rounds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_rounds_request_id"))
    op.drop_table("registration_rounds")
    with op.batch_alter_table("registration_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_requests_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_registration_requests_status"))
        batch_op.drop_index(batch_op.f("ix_registration_requests_contract_id"))
    op.drop_table("registration_requests")
    op.drop_table("registration_counters")
