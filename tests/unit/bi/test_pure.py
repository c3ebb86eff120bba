"""The parts of services/bi that need no server: the SCRAM verifier, the pg_hba.conf block, the
TCP entrance's reading of startup packets."""

from __future__ import annotations

import base64
import struct

import pytest

from services.bi.hba import BEGIN, END, with_reader_rules
from services.bi.listener import error_response, startup_parameters
from services.bi.roles import BiRoleError, check_role_name, saslprep, scram_verifier

INITDB_HBA = """# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
"""


def test_the_scram_verifier_of_rfc_7677_s_example() -> None:
    # RFC 7677's user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
    verifier = scram_verifier("pencil", salt=base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
    assert verifier == (
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
        "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
    )
    assert scram_verifier("pencil") != scram_verifier("pencil")  # a fresh salt each time


@pytest.mark.parametrize(
    ("password", "prepared"),
    [
        ("plain ascii", "plain ascii"),
        ("I\u00adX", "IX"),  # soft hyphen: mapped to nothing
        ("a\u00a0b", "a b"),  # no-break space: a space
        ("\u2168", "IX"),  # roman numeral nine: NFKC
        ("\ufb01x", "fix"),  # ligature
        ("a\u0007b", "a\u0007b"),  # a control character is prohibited: used as it is
    ],
)
def test_saslprep_as_postgresql_applies_it(password: str, prepared: str) -> None:
    assert saslprep(password) == prepared


def test_reader_names_are_plain() -> None:
    assert check_role_name("grafana_2") == "grafana_2"
    for bad in ("Grafana", "pg_x", "2x", "a-b", "all", "ledgerflow_bi", "x" * 64):
        with pytest.raises(BiRoleError):
            check_role_name(bad)


def test_the_readers_block_goes_first_once() -> None:
    once = with_reader_rules(INITDB_HBA)
    lines = once.splitlines()
    assert lines[0] == BEGIN and lines[2] == END
    assert lines[1].split() == ["local", "all", "+ledgerflow_bi", "scram-sha-256"]
    assert once.endswith(INITDB_HBA)
    assert with_reader_rules(once) == once  # a second grant changes nothing


def test_startup_parameters_and_errors() -> None:
    body = b"user\0grafana\0database\0postgres\0\0"
    packet = struct.pack("!ii", 8 + len(body), 196608) + body
    assert startup_parameters(packet) == {"user": "grafana", "database": "postgres"}
    message = error_response("no", "28000")
    assert message[:1] == b"E"
    assert struct.unpack("!i", message[1:5])[0] == len(message) - 1
    assert b"C28000\0" in message and b"Mno\0" in message and message.endswith(b"\0\0")
