"""Read-only roles for BI tools: a LOGIN role with USAGE on the bi_v* schemas and SELECT on
their views, nothing else.

The views run with their owner's rights, so a reader needs no privilege on the read-model
tables or the audit log behind them, and gets none. Every reader is also a member of the
``ledgerflow_bi`` group, which holds no privileges (membership without INHERIT or SET) and only
marks the roles this module manages: `revoke` and the TCP entrance (services/bi/listener.py)
act on its members alone, and on the embedded PostgreSQL, pg_hba.conf names it
(services/bi/hba.py). Privileges are granted to each reader, not to the group, so a reader of
one database reads nothing in another one on the same server.

The password is sent as a SCRAM-SHA-256 verifier computed here (as psql's \\password does), so
the clear text never reaches the server's statement logs or pg_stat_activity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import stringprep
import unicodedata
from dataclasses import dataclass, field

import asyncpg

from services.bi import BI_SCHEMA_PATTERN, READER_GROUP

SCRAM_ITERATIONS = 4096
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RESERVED = {"public", "none", "current_user", "current_role", "session_user", "user", "all"}
_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"


class BiRoleError(Exception):
    """A request to grant or revoke that cannot be carried out as asked."""


@dataclass(frozen=True, slots=True)
class Reader:
    """A reader role as `grant` left it (or as `readers` finds it)."""

    role: str
    schemas: list[str]
    problems: list[str] = field(default_factory=list)
    """Anything the role can do beyond reading the BI views (should be empty)."""


# ---------------------------------------------------------------------------------------------
# The password, as PostgreSQL stores it


def saslprep(password: str) -> str:
    """RFC 4013 SASLprep, the way PostgreSQL applies it to a password (src/common/saslprep.c):
    ASCII as it is; otherwise mapped and NFKC-normalised, unless the result is empty or holds
    prohibited or badly mixed bidirectional characters, when the password is used as it is."""
    if password.isascii():
        return password
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in password if not stringprep.in_table_b1(c)
    )
    normalized = unicodedata.normalize("NFKC", mapped)
    if not normalized:
        return password
    prohibited = (
        stringprep.in_table_a1,
        stringprep.in_table_c12,
        stringprep.in_table_c21_c22,
        stringprep.in_table_c3,
        stringprep.in_table_c4,
        stringprep.in_table_c5,
        stringprep.in_table_c6,
        stringprep.in_table_c7,
        stringprep.in_table_c8,
        stringprep.in_table_c9,
    )
    if any(check(c) for c in normalized for check in prohibited):
        return password
    if any(stringprep.in_table_d1(c) for c in normalized) and (
        not (stringprep.in_table_d1(normalized[0]) and stringprep.in_table_d1(normalized[-1]))
        or any(stringprep.in_table_d2(c) for c in normalized)
    ):
        return password
    return normalized


def scram_verifier(
    password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS
) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (RFC 5802, 7677)."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


# ---------------------------------------------------------------------------------------------
# Grant, revoke, inspect


def check_role_name(role: str) -> str:
    """Plain lower-case names only, so BI tools never need to quote them."""
    if not _NAME.match(role) or role.startswith("pg_") or role in _RESERVED or role == READER_GROUP:
        raise BiRoleError(
            f"{role!r} is not a name for a reader: use lower-case letters, digits and _, "
            f"at most 63, not starting with a digit or pg_ (and not {READER_GROUP})"
        )
    return role


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def bi_schemas(conn: asyncpg.Connection) -> list[str]:
    """The BI schemas of this database, oldest version first."""
    rows = await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname ~ $1 "
        "ORDER BY substring(nspname FROM 5)::int",
        BI_SCHEMA_PATTERN,
    )
    return [r["nspname"] for r in rows]


async def _is_reader(conn: asyncpg.Connection, role: str) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (
                 SELECT 1 FROM pg_auth_members m
                   JOIN pg_roles r ON r.oid = m.member
                   JOIN pg_roles g ON g.oid = m.roleid
                  WHERE r.rolname = $1 AND g.rolname = $2)""",
            role,
            READER_GROUP,
        )
    )


async def grant_reader(
    conn: asyncpg.Connection,
    role: str,
    password: str,
    *,
    statement_timeout: str | None = "60s",
) -> Reader:
    """Create the reader ``role`` (or bring an existing reader up to date: password, settings,
    grants on every BI schema), in one transaction. Refuses a role that exists and is not a
    reader, so it can never take over the application's own role."""
    check_role_name(role)
    if not password:
        raise BiRoleError("a reader needs a password")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ledgerflow.bi.roles'))")
        schemas = await bi_schemas(conn)
        if not schemas:
            raise BiRoleError("this database has no BI views yet: run `ledgerflow db upgrade`")
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", READER_GROUP):
            await conn.execute(f"CREATE ROLE {_ident(READER_GROUP)} NOLOGIN NOINHERIT")
            await conn.execute(
                f"COMMENT ON ROLE {_ident(READER_GROUP)} IS "
                "'Marks the BI readers of ledgerflow (ledgerflow bi grant); holds no privileges.'"
            )
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        if exists and not await _is_reader(conn, role):
            raise BiRoleError(
                f"role {role} exists and is not a ledgerflow BI reader; choose another name"
            )
        name = _ident(role)
        secret = _literal(scram_verifier(password))
        verb = "ALTER" if exists else "CREATE"
        await conn.execute(f"{verb} ROLE {name} WITH {_ATTRIBUTES} PASSWORD {secret}")
        await conn.execute(f"GRANT {_ident(READER_GROUP)} TO {name} WITH INHERIT FALSE, SET FALSE")
        await conn.execute(
            f"COMMENT ON ROLE {name} IS "
            "'ledgerflow BI reader: SELECT on the bi_v* views only (ledgerflow bi grant).'"
        )
        # Defence in depth: PostgreSQL lets every role create temporary tables and large
        # objects, which no privilege can take away; a read-only transaction refuses both.
        await conn.execute(f"ALTER ROLE {name} SET default_transaction_read_only = on")
        # Unqualified names resolve in the oldest version first, so a dashboard written
        # against bi_v1 keeps its meaning when bi_v2 arrives.
        await conn.execute(
            f"ALTER ROLE {name} SET search_path = {', '.join(_ident(s) for s in schemas)}"
        )
        if statement_timeout and statement_timeout != "0":
            await conn.execute(
                f"ALTER ROLE {name} SET statement_timeout = {_literal(statement_timeout)}"
            )
        else:
            await conn.execute(f"ALTER ROLE {name} RESET statement_timeout")
        database = _ident(await conn.fetchval("SELECT current_database()"))
        await conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {name}")
        for schema in schemas:
            owner = await conn.fetchval(
                "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema
            )
            await conn.execute(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {name}")
            await conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {_ident(schema)} TO {name}")
            # Views a later migration adds to this version are readable at once.
            await conn.execute(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {_ident(schema)} "
                f"GRANT SELECT ON TABLES TO {name}"
            )
        problems = await privileges_beyond_views(conn, role)
    return Reader(role, schemas, problems)


async def revoke_reader(conn: asyncpg.Connection, role: str) -> None:
    """Take every privilege of the reader ``role`` in this database and drop it. Refuses a role
    that is not a reader."""
    check_role_name(role)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ledgerflow.bi.roles'))")
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
            raise BiRoleError(f"there is no role {role}")
        if not await _is_reader(conn, role):
            raise BiRoleError(f"role {role} is not a ledgerflow BI reader; not touching it")
        name = _ident(role)
        for schema in await bi_schemas(conn):
            owner = await conn.fetchval(
                "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema
            )
            await conn.execute(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {_ident(schema)} "
                f"REVOKE SELECT ON TABLES FROM {name}"
            )
        # Revokes every privilege it holds in this database (and on the database itself).
        await conn.execute(f"DROP OWNED BY {name}")
        try:
            await conn.execute(f"DROP ROLE {name}")
        except asyncpg.DependentObjectsStillExistError as err:
            raise BiRoleError(
                f"role {role} still holds privileges elsewhere (another database?): "
                f"{err.detail or err}"
            ) from None


async def readers(conn: asyncpg.Connection) -> list[Reader]:
    """Every reader role on the server, with what it can do here beyond reading the views."""
    rows = await conn.fetch(
        """SELECT r.rolname FROM pg_auth_members m
             JOIN pg_roles r ON r.oid = m.member
             JOIN pg_roles g ON g.oid = m.roleid
            WHERE g.rolname = $1 ORDER BY r.rolname""",
        READER_GROUP,
    )
    found = []
    for r in rows:
        role = r["rolname"]
        schemas = [
            s
            for s in await bi_schemas(conn)
            if await conn.fetchval("SELECT has_schema_privilege($1, $2, 'USAGE')", role, s)
        ]
        found.append(Reader(role, schemas, await privileges_beyond_views(conn, role)))
    return found


async def privileges_beyond_views(conn: asyncpg.Connection, role: str) -> list[str]:
    """What ``role`` may do in this database besides reading the BI views, as sentences; a
    reader's list is empty. (Every role may create temporary tables and large objects: no
    privilege controls those; a reader's default read-only transactions refuse them.)"""
    table_privileges = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
    if await conn.fetchval("SELECT current_setting('server_version_num')::int >= 170000"):
        table_privileges.append("MAINTAIN")
    problems = [
        f"{r['privilege']} on {r['relation']}"
        for r in await conn.fetch(
            """SELECT p.privilege, format('%I.%I', n.nspname, c.relname) AS relation
                 FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN unnest($2::text[]) AS p(privilege)
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname !~ '^pg_toast'
                  AND has_table_privilege($1, c.oid, p.privilege)
                  AND NOT (p.privilege = 'SELECT' AND c.relkind = 'v' AND n.nspname ~ $3)
                ORDER BY 2, 1""",
            role,
            table_privileges,
            BI_SCHEMA_PATTERN,
        )
    ]
    problems += [
        f"{r['privilege']} on sequence {r['relation']}"
        for r in await conn.fetch(
            """SELECT p.privilege, format('%I.%I', n.nspname, c.relname) AS relation
                 FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p(privilege)
                WHERE c.relkind = 'S' AND has_sequence_privilege($1, c.oid, p.privilege)
                ORDER BY 2, 1""",
            role,
        )
    ]
    problems += [
        f"CREATE in schema {r['nspname']}"
        for r in await conn.fetch(
            "SELECT nspname FROM pg_namespace "
            "WHERE has_schema_privilege($1, oid, 'CREATE') ORDER BY nspname",
            role,
        )
    ]
    if await conn.fetchval("SELECT has_database_privilege($1, current_database(), 'CREATE')", role):
        problems.append("CREATE in this database (new schemas)")
    attributes = await conn.fetchrow(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
        "FROM pg_roles WHERE rolname = $1",
        role,
    )
    if attributes is not None:
        problems += [
            f"attribute {name.removeprefix('rol').upper()}"
            for name, value in attributes.items()
            if value
        ]
    problems += [
        f"member of role {r['rolname']}"
        for r in await conn.fetch(
            """SELECT g.rolname FROM pg_auth_members m
                 JOIN pg_roles r ON r.oid = m.member
                 JOIN pg_roles g ON g.oid = m.roleid
                WHERE r.rolname = $1 AND g.rolname <> $2
                ORDER BY 1""",
            role,
            READER_GROUP,
        )
    ]
    return problems
