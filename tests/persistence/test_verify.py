"""Verification of a stored analysis (FEATURES.md H1): the stored input re-analysed with the
stored parameters gives the stored result; a changed compound row or changed input bytes are
reported, and nothing is written. On SQLite and Postgres."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from ganglioside_nb.api import AnalysisService, Verification, verify_session
from ganglioside_nb.errors import InvalidTransitionError, SessionNotFoundError
from ganglioside_nb.execution import LocalRunner
from ganglioside_nb.persistence import Repository

from .conftest import SAMPLE


@pytest.fixture
def saved(repo: Repository, structural_result) -> int:
    session_id = repo.create_session(SAMPLE, name="sample")
    repo.save_result(session_id, structural_result)
    return session_id


def test_an_untouched_session_verifies_identical_and_nothing_is_written(repo, engine, saved) -> None:
    events = len(repo.audit_log(saved))
    before = repo.get_session(saved)
    verification = AnalysisService(repo, LocalRunner()).verify(saved)
    assert isinstance(verification, Verification)
    assert verification.identical and verification.input_intact
    assert verification.differences == () and verification.library_changes == {}
    assert verification.input_sha256 == before.input_sha256
    text = verification.summary()
    assert text.startswith(f"session {saved}: identical") and "intact" in text
    assert "identical=True" in repr(verification) and "identical" in verification._repr_html_()
    assert len(repo.audit_log(saved)) == events and repo.get_session(saved) == before


def test_a_changed_compound_row_is_reported(repo, engine, saved) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE compound SET predicted_rt = predicted_rt + 0.25 "
                             "WHERE session_id = :s AND input_row = 10"), {"s": saved})
    verification = verify_session(repo, saved)
    assert not verification.identical and verification.input_intact
    assert len(verification.differences) == 1
    assert verification.differences[0].startswith(
        "compounds.predicted_rt: 1 of 323 values differ (largest difference 0.25); first at position 10")
    assert "NOT identical" in verification.summary()


def test_changed_input_bytes_are_reported_and_not_re_run(repo, engine, saved) -> None:
    recorded = repo.get_session(saved).input_sha256
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE analysis_input SET raw_bytes = :b WHERE session_id = :s"),
                     {"b": SAMPLE.read_bytes()[:-40], "s": saved})
    verification = verify_session(repo, saved)
    assert not verification.identical and not verification.input_intact
    assert verification.differences == (verification.differences[0],)
    assert verification.differences[0].endswith(f"not the recorded {recorded}; not re-run")
    assert "CHANGED since it was stored" in verification.summary()


def test_a_re_run_the_installed_version_rejects_is_reported(repo, engine, saved) -> None:
    """Stored bytes that no longer analyse (here: a recorded hash forged to match a broken
    file) give a difference line, not an error."""
    broken = b"Name,RT\nGD1a(36:1;O2),9.1\n"
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE analysis_input SET raw_bytes = :b WHERE session_id = :s"),
                     {"b": broken, "s": saved})
        conn.execute(sa.text("UPDATE analysis_session SET input_sha256 = :h WHERE id = :s"),
                     {"h": hashlib.sha256(broken).hexdigest(), "s": saved})
    verification = verify_session(repo, saved)
    assert not verification.identical and verification.input_intact
    assert verification.differences[0].startswith("re-run failed: ")
    assert "Volume" in verification.differences[0]


def test_only_completed_sessions_of_the_owner(repo, other_repo, saved) -> None:
    pending = repo.create_session(SAMPLE)
    with pytest.raises(InvalidTransitionError, match="must be completed to be verified"):
        verify_session(repo, pending)
    with pytest.raises(SessionNotFoundError):
        verify_session(other_repo, saved)
