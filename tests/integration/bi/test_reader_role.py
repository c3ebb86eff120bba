"""The reader role: it signs in with its password only, reads the views and nothing else, and
every write it attempts is refused, whether or not it leaves its read-only default."""

from __future__ import annotations

import asyncpg
import pytest

from services.bi.roles import (
    BiRoleError,
    grant_reader,
    privileges_beyond_views,
    readers,
    revoke_reader,
)
from services.store.pool import connect
from tests.conftest import USE_DOCKER
from tests.integration.bi.conftest import Filled, Reader, drop_reader, make_reader

PERMISSION = asyncpg.InsufficientPrivilegeError

# (statement, how PostgreSQL refuses it in a transaction the reader made READ WRITE).
# Privileges decide wherever PostgreSQL consults them; a view that joins tables cannot be
# written by anyone (PostgreSQL says so before it looks at privileges), nor truncated.
WRITES: list[tuple[str, type[asyncpg.PostgresError]]] = [
    # through the views
    (
        "INSERT INTO bi_v1.model_version_aliases VALUES ('m', 'a', 1)",
        PERMISSION,
    ),
    ("UPDATE bi_v1.registered_model_tags SET value = 'x'", PERMISSION),
    ("DELETE FROM bi_v1.registered_model_tags", PERMISSION),
    ("COPY bi_v1.model_version_aliases FROM STDIN", PERMISSION),
    ("INSERT INTO bi_v1.runs (run_id) VALUES ('x')", asyncpg.ObjectNotInPrerequisiteStateError),
    ("UPDATE bi_v1.runs SET status = 'KILLED'", asyncpg.ObjectNotInPrerequisiteStateError),
    ("DELETE FROM bi_v1.metric_history", asyncpg.ObjectNotInPrerequisiteStateError),
    ("TRUNCATE bi_v1.run_params", asyncpg.WrongObjectTypeError),
    ("LOCK TABLE bi_v1.runs", PERMISSION),
    ("DROP VIEW bi_v1.runs", PERMISSION),
    ("ALTER VIEW bi_v1.runs RENAME TO r", PERMISSION),
    ("CREATE OR REPLACE VIEW bi_v1.experiments AS SELECT 1 AS experiment_id", PERMISSION),
    ("COMMENT ON VIEW bi_v1.runs IS 'x'", PERMISSION),
    # the tables behind them, and the audit log
    ("INSERT INTO readmodel.runs (run_id) VALUES ('x')", PERMISSION),
    ("UPDATE readmodel.runs SET status = 'KILLED'", PERMISSION),
    ("DELETE FROM readmodel.metrics", PERMISSION),
    ("TRUNCATE readmodel.run_params", PERMISSION),
    ("DELETE FROM ledgerflow.audit_log", PERMISSION),
    (
        'INSERT INTO ledgerflow.event_log (topic, partition, "offset", value) '
        "VALUES ('t', 0, 0, '')",
        PERMISSION,
    ),
    ("SELECT nextval('ledgerflow.experiment_ids')", PERMISSION),
    ("CREATE INDEX ON readmodel.runs (name)", PERMISSION),
    # new objects anywhere
    ("CREATE TABLE bi_v1.mine (a int)", PERMISSION),
    ("CREATE VIEW bi_v1.mine AS SELECT 1", PERMISSION),
    ("CREATE TABLE public.mine (a int)", PERMISSION),
    ("CREATE TABLE readmodel.mine (a int)", PERMISSION),
    ("CREATE SCHEMA mine", PERMISSION),
    ("CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", PERMISSION),
    # reads around the views
    ("SELECT * FROM readmodel.runs", PERMISSION),
    ("SELECT * FROM readmodel.metrics", PERMISSION),
    ("SELECT * FROM ledgerflow.audit_log", PERMISSION),
    ("SELECT * FROM ledgerflow.event_log", PERMISSION),
]


async def test_the_reader_signs_in_with_its_password_only(reader: Reader) -> None:
    conn = await reader.connect()
    assert await conn.fetchval("SELECT current_user") == reader.role
    await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(reader.dsn, user=reader.role, password="not the password")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(reader.dsn, user=reader.role, password="")


@pytest.mark.parametrize(("statement", "refusal"), WRITES, ids=[s for s, _ in WRITES])
async def test_every_write_is_refused(
    reader: Reader, statement: str, refusal: type[asyncpg.PostgresError]
) -> None:
    conn = await reader.connect()
    try:
        # As the reader starts: every transaction is read-only by default.
        with pytest.raises((asyncpg.ReadOnlySQLTransactionError, refusal)):
            async with conn.transaction():
                await conn.execute(statement)
        # The reader can ask for a read-write transaction; privileges refuse it all the same.
        with pytest.raises(refusal):
            async with conn.transaction(readonly=False):
                await conn.execute("SET TRANSACTION READ WRITE")
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_what_postgresql_grants_every_role_needs_a_read_write_transaction(
    reader: Reader,
) -> None:
    """Temporary tables (and large objects) are PostgreSQL's gift to every role, beyond any
    privilege; the reader's read-only default refuses them until it asks for READ WRITE (which
    is also what makes the READ WRITE refusals above privilege refusals)."""
    conn = await reader.connect()
    try:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("CREATE TEMP TABLE scratch (a int)")
        async with conn.transaction():
            await conn.execute("SET TRANSACTION READ WRITE")
            await conn.execute("CREATE TEMP TABLE scratch (a int) ON COMMIT DROP")
    finally:
        await conn.close()


async def test_the_reader_holds_nothing_but_select_on_the_views(
    filled: Filled, reader: Reader
) -> None:
    admin = await connect(filled.dsn)
    try:
        assert await privileges_beyond_views(admin, reader.role) == []
        found = {r.role: r for r in await readers(admin)}
        assert found[reader.role].schemas == ["bi_v1"]
        assert found[reader.role].problems == []
        settings = await admin.fetchval(
            "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname = $1",
            reader.role,
        )
        assert "default_transaction_read_only=on" in settings
        assert "statement_timeout=60s" in settings
        # a privilege granted behind ledgerflow's back is named
        await admin.execute(f"GRANT USAGE ON SCHEMA readmodel TO {reader.role}")
        await admin.execute(f"GRANT SELECT ON readmodel.runs TO {reader.role}")
        try:
            assert await privileges_beyond_views(admin, reader.role) == ["SELECT on readmodel.runs"]
        finally:
            await admin.execute(f"REVOKE SELECT ON readmodel.runs FROM {reader.role}")
            await admin.execute(f"REVOKE USAGE ON SCHEMA readmodel FROM {reader.role}")
    finally:
        await admin.close()


async def test_a_view_added_later_is_readable_at_once(filled: Filled, reader: Reader) -> None:
    """A minor version adds a view to bi_v1 in a migration: readers may read it without a new
    grant (default privileges)."""
    admin = await connect(filled.dsn)
    try:
        await admin.execute(
            "CREATE VIEW bi_v1.added_later AS SELECT count(*) AS n FROM readmodel.runs"
        )
        conn = await reader.connect()
        try:
            assert await conn.fetchval("SELECT n FROM bi_v1.added_later") == len(filled.facts.runs)
        finally:
            await conn.close()
    finally:
        await admin.execute("DROP VIEW bi_v1.added_later")
        await admin.close()


async def test_grant_never_takes_over_another_role(filled: Filled) -> None:
    admin = await connect(filled.dsn)
    try:
        me = await admin.fetchval("SELECT current_user")
        with pytest.raises(BiRoleError, match="not a ledgerflow BI reader"):
            await grant_reader(admin, me, "x")
        await admin.execute("CREATE ROLE bi_not_a_reader LOGIN")
        try:
            with pytest.raises(BiRoleError, match="not a ledgerflow BI reader"):
                await grant_reader(admin, "bi_not_a_reader", "x")
            with pytest.raises(BiRoleError, match="not a ledgerflow BI reader"):
                await revoke_reader(admin, "bi_not_a_reader")
        finally:
            await admin.execute("DROP ROLE bi_not_a_reader")
        for bad in ("Grafana", "pg_reader", "1reader", "a-b", "public", "ledgerflow_bi", ""):
            with pytest.raises(BiRoleError):
                await grant_reader(admin, bad, "x")
    finally:
        await admin.close()


async def test_grant_again_changes_the_password_and_revoke_drops_the_role(filled: Filled) -> None:
    reader = await make_reader(filled.dsn, password="first")
    admin = await connect(filled.dsn)
    try:
        await grant_reader(admin, reader.role, "pässwörd ﬁ")  # SASLprep'd as PostgreSQL does
        with pytest.raises(asyncpg.InvalidPasswordError):
            await reader.connect()
        conn = await asyncpg.connect(filled.dsn, user=reader.role, password="pässwörd ﬁ")
        assert await conn.fetchval("SELECT count(*) FROM bi_v1.runs") == len(filled.facts.runs)
        await conn.close()
        await drop_reader(reader)
        assert not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", reader.role)
    finally:
        await admin.close()


@pytest.mark.skipif(USE_DOCKER, reason="the container's pg_hba.conf is the image's own")
async def test_the_application_s_own_connections_are_untouched(filled: Filled) -> None:
    """The password rule names the readers' group alone: the embedded server still lets the
    application in over its socket as before."""
    conn = await connect(filled.dsn)
    try:
        rules = await conn.fetch(
            "SELECT user_name, auth_method FROM pg_hba_file_rules ORDER BY rule_number"
        )
    finally:
        await conn.close()
    assert (rules[0]["user_name"], rules[0]["auth_method"]) == (["+ledgerflow_bi"], "scram-sha-256")
    assert any(r["user_name"] == ["all"] and r["auth_method"] == "trust" for r in rules[1:])
