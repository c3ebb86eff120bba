"""The NOTIFY payloads that carry verdicts to waiting writers: within PostgreSQL's size limit,
verdicts inlined when small, event ids alone when not."""

from __future__ import annotations

import uuid

from services.projector.verdict import NOTICE_LIMIT, Verdict, notices, read_notice


def test_small_verdicts_travel_whole() -> None:
    accepted = uuid.uuid4()
    rejected = uuid.uuid4()
    verdicts = {
        accepted: Verdict(True, outcome={"version": 3}),
        rejected: Verdict(
            False, "RESOURCE_ALREADY_EXISTS", "Registered Model (name=m) already exists."
        ),
    }
    (payload,) = notices(verdicts)
    assert dict(read_notice(payload)) == verdicts


def test_a_big_verdict_travels_as_its_id_and_payloads_stay_under_the_limit() -> None:
    big = uuid.uuid4()
    verdicts = {uuid.uuid4(): Verdict(True, outcome={"run": "x" * 40}) for _ in range(400)}
    verdicts[big] = Verdict(False, "INVALID_PARAMETER_VALUE", "r" * 5000)
    payloads = notices(verdicts)
    assert len(payloads) > 1
    assert all(len(p.encode()) <= NOTICE_LIMIT for p in payloads)
    decided = dict(pair for p in payloads for pair in read_notice(p))
    assert decided.keys() == verdicts.keys()
    assert decided[big] is None
    assert all(decided[e] == v for e, v in verdicts.items() if e != big)


def test_unreadable_notices_announce_nothing() -> None:
    assert read_notice("not json") == []
    assert read_notice('{"a": 1}') == []
    assert read_notice('[["not-a-uuid", true, null, null, null], [1]]') == []
