"""Sessions: creation, status moves, listing, rename, soft delete, restore, purge, clean-up,
audit trail and health, on SQLite and Postgres."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

import ganglioside_nb as gnb
from ganglioside_nb import AnalysisParams
from ganglioside_nb.errors import (
    InputFormatError,
    InvalidParameterError,
    InvalidTransitionError,
    SessionNotFoundError,
)
from ganglioside_nb.persistence import Repository, head_revision

from .conftest import SAMPLE, SAMPLE_5, count_rows


def _actions(repo: Repository, session_id: int) -> list[str]:
    return [e.action for e in repo.audit_log(session_id)]


def _backdate(engine: sa.Engine, session_id: int, days: float) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE analysis_session SET created_at = :t WHERE id = :i"),
                     {"t": datetime.now(UTC) - timedelta(days=days), "i": session_id})


# -- creation -------------------------------------------------------------------------------
def test_create_from_path_stores_bytes_hash_and_full_params(repo: Repository, owner: str) -> None:
    session_id = repo.create_session(SAMPLE, name="  porcine run  ", params={"rt_tolerance": 0.2})
    info = repo.get_session(session_id)
    raw = SAMPLE.read_bytes()
    assert (info.owner, info.name, info.status, info.data_type) == (owner, "porcine run", "pending",
                                                                    "porcine")
    assert info.input_filename == SAMPLE.name and info.input_format == "csv"
    assert info.input_size == len(raw) and info.input_sha256 == hashlib.sha256(raw).hexdigest()
    assert info.params == AnalysisParams(rt_tolerance=0.2).to_dict()  # every default stored
    assert info.created_at.tzinfo is not None and info.created_at.utcoffset() == timedelta(0)
    assert info.package_version == gnb.__version__ and "numpy" in info.environment["libraries"]
    assert repo.load_input(session_id) == raw
    events = repo.audit_log(session_id)
    assert [(e.action, e.actor, e.owner) for e in events] == [("created", owner, owner)]
    assert events[0].details["input_sha256"] == info.input_sha256


def test_dataframe_input_is_stored_as_the_csv_analyze_hashes(repo: Repository) -> None:
    table = pd.read_csv(SAMPLE_5)
    session_id = repo.create_session(table, data_type="human")
    info = repo.get_session(session_id)
    assert info.input_sha256 == gnb.analyze(table).input_sha256
    assert info.input_format == "dataframe" and info.data_type == "human"
    assert info.params["data_type"] == "human"
    assert pd.read_csv(__import__("io").BytesIO(repo.load_input(session_id))).equals(table)


def test_create_rejects_bad_arguments(repo: Repository, tmp_path) -> None:
    with pytest.raises(InvalidParameterError, match="rt_tolerance"):
        repo.create_session(SAMPLE, params={"rt_tolerance": -1})
    with pytest.raises(InvalidParameterError, match="name must be a text of at most 255"):
        repo.create_session(SAMPLE, name="x" * 300)
    with pytest.raises(InvalidParameterError, match="source must be a path, bytes"):
        repo.create_session(42)  # type: ignore[arg-type]
    with pytest.raises(InputFormatError, match="must exist and be readable"):
        repo.create_session(tmp_path / "missing.csv")
    with pytest.raises(InputFormatError, match="must be at most 1048576 bytes. Got 1048577"):
        repo.create_session(b"x" * 1_048_577, params={"max_file_bytes": 1_048_576})
    with pytest.raises(SessionNotFoundError, match="Got 987654321 instead"):
        repo.create_session(SAMPLE_5, parent_id=987654321)
    assert repo.list_sessions() == []


# -- status moves ---------------------------------------------------------------------------
def test_status_moves_and_their_audit_events(repo: Repository, small_result) -> None:
    session_id = repo.create_session(SAMPLE_5)
    running = repo.mark_running(session_id, task_key="gnb-run-1-abc")
    assert running.status == "running" and running.started_at is not None
    assert running.task_key == "gnb-run-1-abc"
    failed = repo.mark_failed(session_id, ValueError("bad\nthing"))
    assert failed.status == "failed" and failed.error_message == "ValueError: bad thing"
    rerun = repo.mark_running(session_id)  # a failed session re-runs in place
    assert rerun.error_message is None and rerun.finished_at is None
    done = repo.save_result(session_id, small_result)
    assert done.status == "completed" and done.duration is not None
    assert _actions(repo, session_id) == ["created", "started", "failed", "started", "completed"]


def test_illegal_moves_raise_and_change_nothing(repo: Repository, completed: int, small_result) -> None:
    before = repo.load_result(completed)
    with pytest.raises(InvalidTransitionError, match="must be pending or running or failed to "
                                                     "become completed. Got status 'completed'"):
        repo.save_result(completed, small_result)
    with pytest.raises(InvalidTransitionError, match="to become running"):
        repo.mark_running(completed)
    with pytest.raises(InvalidTransitionError, match="to become cancelled"):
        repo.mark_cancelled(completed)
    with pytest.raises(InvalidTransitionError, match="to become failed"):
        repo.mark_failed(completed, "late error")
    assert repo.get_session(completed).status == "completed"
    assert repo.load_result(completed).equals(before)

    pending = repo.create_session(SAMPLE_5)
    with pytest.raises(InvalidTransitionError, match="must be completed to load its result"):
        repo.load_result(pending)
    repo.mark_cancelled(pending)
    with pytest.raises(InvalidTransitionError, match="Got status 'cancelled'"):
        repo.save_result(pending, small_result)


def test_save_refuses_a_result_of_another_input(repo: Repository, engine, structural_result) -> None:
    session_id = repo.create_session(SAMPLE_5)
    with pytest.raises(InvalidParameterError, match="must come from its input"):
        repo.save_result(session_id, structural_result)
    with pytest.raises(InvalidParameterError, match="result must be an AnalysisResult"):
        repo.save_result(session_id, "not a result")  # type: ignore[arg-type]
    assert repo.get_session(session_id).status == "pending"
    assert count_rows(engine, "compound", session_id) == 0


# -- listing and renaming -------------------------------------------------------------------
def test_list_filters_and_order(repo: Repository, small_result) -> None:
    a = repo.create_session(SAMPLE_5, name="Brain 50%_run")
    b = repo.create_session(SAMPLE_5, name="liver", data_type="mouse")
    c = repo.create_session(SAMPLE, name=None)
    repo.save_result(a, small_result)
    assert [s.id for s in repo.list_sessions()] == [c, b, a]  # newest first
    assert [s.id for s in repo.list_sessions(status="completed")] == [a]
    assert [s.id for s in repo.list_sessions(status=["pending", "running"])] == [c, b]
    assert [s.id for s in repo.list_sessions(data_type="mouse")] == [b]
    assert [s.id for s in repo.list_sessions(search="BRAIN")] == [a]
    assert [s.id for s in repo.list_sessions(search="50%_")] == [a]  # LIKE wildcards are literal
    assert [s.id for s in repo.list_sessions(search="0%x")] == []
    assert [s.id for s in repo.list_sessions(search="testwork_user")] == [c]  # input file name
    assert [s.id for s in repo.list_sessions(limit=1)] == [c]
    assert repo.get_session(c).display_name == f"Session #{c}"
    with pytest.raises(InvalidParameterError, match="status must be among"):
        repo.list_sessions(status="done")


def test_rename_records_old_and_new_name(repo: Repository) -> None:
    session_id = repo.create_session(SAMPLE_5, name="first")
    assert repo.rename(session_id, "second").name == "second"
    assert repo.rename(session_id, "   ").name is None
    renamed = [e.details for e in repo.audit_log(session_id) if e.action == "renamed"]
    assert renamed == [{"old": "first", "new": "second"}, {"old": "second", "new": None}]


# -- delete, restore, purge -----------------------------------------------------------------
def test_soft_delete_hides_and_restore_brings_back(repo: Repository, completed: int) -> None:
    deleted = repo.soft_delete(completed)
    assert deleted.deleted_at is not None and deleted.deleted_by == repo.owner
    assert repo.list_sessions() == []
    assert [s.id for s in repo.list_sessions(only_deleted=True)] == [completed]
    assert [s.id for s in repo.list_sessions(include_deleted=True)] == [completed]
    for hidden in (repo.get_session, repo.load_result, repo.load_input, repo.soft_delete):
        with pytest.raises(SessionNotFoundError):
            hidden(completed)
    with pytest.raises(SessionNotFoundError):
        repo.export(completed, "csv")

    restored = repo.restore(completed)
    assert restored.deleted_at is None and restored.status == "completed"
    assert [s.id for s in repo.list_sessions()] == [completed]
    assert repo.load_result(completed).statistics["total_rows"] == 5
    with pytest.raises(InvalidTransitionError, match="must be deleted to be restored"):
        repo.restore(completed)
    assert _actions(repo, completed)[-2:] == ["deleted", "restored"]


def test_running_sessions_cannot_be_deleted_or_purged(repo: Repository) -> None:
    session_id = repo.create_session(SAMPLE_5)
    repo.mark_running(session_id)
    with pytest.raises(InvalidTransitionError, match="must not be running to be deleted"):
        repo.soft_delete(session_id)
    with pytest.raises(InvalidTransitionError, match="must not be running to be purged"):
        repo.purge(session_id)


def test_purge_removes_rows_and_keeps_audit_events(repo: Repository, engine, completed: int) -> None:
    child = repo.create_session(SAMPLE_5, parent_id=completed)
    assert repo.get_session(child).parent_id == completed
    repo.soft_delete(completed)
    purged = repo.purge(completed)  # from the Trash
    assert purged.id == completed
    for table in ("compound", "analysis_model", "analysis_result", "analysis_input"):
        assert count_rows(engine, table, completed) == 0, table
    with pytest.raises(SessionNotFoundError):
        repo.get_session(completed, include_deleted=True)
    assert repo.get_session(child).parent_id is None
    assert _actions(repo, completed) == ["created", "completed", "deleted", "purged"]
    assert repo.audit_log(completed)[-1].details["input_sha256"] == purged.input_sha256


def test_audit_events_cannot_be_updated_or_deleted(repo: Repository, engine, completed: int) -> None:
    for statement in ("UPDATE audit_event SET action = 'renamed' WHERE session_id = :i",
                      "DELETE FROM audit_event WHERE session_id = :i"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement), {"i": completed})
    assert _actions(repo, completed) == ["created", "completed"]


def test_repository_has_no_update_or_delete_path_for_audit_events() -> None:
    from pathlib import Path

    import ganglioside_nb.persistence.repository as module

    source = Path(module.__file__).read_text(encoding="utf-8")
    assert "update(AUDIT" not in source and "delete(AUDIT" not in source


# -- clean-up -------------------------------------------------------------------------------
def test_cleanup_dry_run_reports_and_apply_soft_deletes(repo: Repository, engine, small_result) -> None:
    old_done = repo.create_session(SAMPLE_5, name="old completed")
    repo.save_result(old_done, small_result)
    old_failed = repo.create_session(SAMPLE_5, name="old failed")
    repo.mark_failed(old_failed, "boom")
    old_pending = repo.create_session(SAMPLE_5, name="old pending")
    recent = repo.create_session(SAMPLE_5, name="recent")
    repo.save_result(recent, small_result)
    for session_id in (old_done, old_failed, old_pending):
        _backdate(engine, session_id, days=40)
    events_before = len(repo.audit_log())

    planned = repo.cleanup_older_than(30)  # dry run by default
    assert [s.id for s in planned] == [old_done, old_failed]
    assert len(repo.list_sessions()) == 4 and len(repo.audit_log()) == events_before

    applied = repo.cleanup_older_than(30, dry_run=False)
    assert [s.id for s in applied] == [old_done, old_failed]
    assert all(s.deleted_at is not None for s in applied)
    assert sorted(s.id for s in repo.list_sessions()) == sorted([old_pending, recent])
    assert repo.audit_log(old_done)[-1].details == {"cleanup": True, "older_than_days": 30}
    assert repo.cleanup_older_than(30) == []
    with pytest.raises(InvalidParameterError, match="days must be a number >= 0"):
        repo.cleanup_older_than(-1)
    with pytest.raises(InvalidParameterError, match="reserved to the owners in GANGLIOSIDE_NB_ADMINS"):
        repo.cleanup_older_than(30, all_owners=True)


def _trashed_days_ago(engine: sa.Engine, session_id: int, days: float) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE analysis_session SET deleted_at = :t WHERE id = :i"),
                     {"t": datetime.now(UTC) - timedelta(days=days), "i": session_id})


def test_purging_old_trash_is_a_separate_dry_run_first_step(repo: Repository, other_repo: Repository,
                                                            engine, small_result) -> None:
    long_trashed = repo.create_session(SAMPLE_5, name="in the trash 40 days")
    repo.save_result(long_trashed, small_result)
    failed_trashed = repo.create_session(SAMPLE_5, name="failed, in the trash 31 days")
    repo.mark_failed(failed_trashed, "boom")
    recently_trashed = repo.create_session(SAMPLE_5, name="in the trash 2 days")
    old_live = repo.create_session(SAMPLE_5, name="old but not in the trash")
    theirs = other_repo.create_session(SAMPLE_5, name="another owner's trash")
    for session_id, days in ((long_trashed, 40), (failed_trashed, 31), (recently_trashed, 2)):
        repo.soft_delete(session_id)
        _trashed_days_ago(engine, session_id, days)
    other_repo.soft_delete(theirs)
    _trashed_days_ago(engine, theirs, 90)
    _backdate(engine, old_live, days=400)
    events_before = len(repo.audit_log())

    planned = repo.purge_trash_older_than(30)  # dry run by default
    assert [s.id for s in planned] == [long_trashed, failed_trashed]  # longest in the trash first
    assert count_rows(engine, "compound", long_trashed) == 5 and len(repo.audit_log()) == events_before

    purged = repo.purge_trash_older_than(30, dry_run=False)
    assert [s.id for s in purged] == [long_trashed, failed_trashed]
    assert count_rows(engine, "compound", long_trashed) == 0
    assert count_rows(engine, "analysis_input", failed_trashed) == 0
    for session_id in (long_trashed, failed_trashed):
        with pytest.raises(SessionNotFoundError):
            repo.get_session(session_id, include_deleted=True)
        event = repo.audit_log(session_id)[-1]  # the audit trail outlives the purge
        assert event.action == "purged" and event.details["trash_older_than_days"] == 30
    assert [s.id for s in repo.list_sessions(only_deleted=True)] == [recently_trashed]
    assert repo.get_session(old_live).deleted_at is None
    assert other_repo.get_session(theirs, include_deleted=True).deleted_at is not None
    assert repo.purge_trash_older_than(30) == []
    with pytest.raises(InvalidParameterError, match="days must be a number >= 0"):
        repo.purge_trash_older_than(float("nan"))
    with pytest.raises(InvalidParameterError, match="reserved to the owners in GANGLIOSIDE_NB_ADMINS"):
        repo.purge_trash_older_than(30, all_owners=True)


def test_a_session_restored_after_listing_is_not_purged(repo: Repository, engine) -> None:
    session_id = repo.create_session(SAMPLE_5)
    repo.soft_delete(session_id)
    _trashed_days_ago(engine, session_id, 60)
    assert repo._purge(session_id, any_owner=False, trashed_only=True) is not None
    kept = repo.create_session(SAMPLE_5)
    repo.soft_delete(kept)
    repo.restore(kept)  # as if restored between the listing and the purge
    assert repo._purge(kept, any_owner=False, trashed_only=True) is None
    assert repo.get_session(kept).deleted_at is None


# -- health ---------------------------------------------------------------------------------
def test_health_reports_revision_and_counts(repo: Repository, completed: int) -> None:
    repo.create_session(SAMPLE_5)
    deleted = repo.create_session(SAMPLE_5)
    repo.soft_delete(deleted)
    health = repo.health()
    assert health["state"] == "healthy" and health["reachable"] and health["up_to_date"]
    assert health["revision"] == head_revision() == "0002_chromatography"
    assert health["dialect"] == repo.engine.dialect.name
    assert health["counts"] == {"pending": 1, "running": 0, "completed": 1, "failed": 0,
                                "cancelled": 0, "deleted": 1}


def test_trends_across_completed_sessions(repo: Repository, other_repo: Repository, structural_result,
                                          reference_result) -> None:
    first = repo.create_session(SAMPLE, name="run 1")
    repo.save_result(first, structural_result)
    second = repo.create_session(SAMPLE, params={"mode": "reference"})
    repo.save_result(second, reference_result)
    repo.create_session(SAMPLE)  # pending: left out
    theirs = other_repo.create_session(SAMPLE)
    other_repo.save_result(theirs, structural_result)

    trends = repo.trends()
    assert trends.sessions["session_id"].tolist() == [first, second]  # oldest first, own only
    assert trends.sessions["label"].tolist() == [f"#{first} run 1", f"#{second}"]
    for sid, result in ((first, structural_result), (second, reference_result)):
        counts = trends.categories[trends.categories["session_id"] == sid].set_index("category")["n"]
        expected = result.compounds["category"].value_counts()
        assert counts.sort_index().to_dict() == expected.sort_index().to_dict()
        models = trends.models[trends.models["session_id"] == sid]
        stored = result.models.dropna(subset=["r2"])
        assert models["model"].tolist() == stored["model"].tolist()
        assert models["r2"].to_numpy() == pytest.approx(stored["r2"].to_numpy(dtype=float))
        z = result.compounds["z"].to_numpy(dtype=float)
        assert trends.z.loc[trends.z["session_id"] == sid, "z"].to_numpy() == pytest.approx(z[~pd.isna(z)])
    assert repo.trends([second, theirs]).sessions["session_id"].tolist() == [second]
    assert repo.trends(limit=1).sessions["session_id"].tolist() == [second]  # the newest
    assert len(repo.trends(max_z=10).z) == 20
    assert repo.trends([]).sessions.empty
    with pytest.raises(InvalidParameterError, match="limit must be a positive integer"):
        repo.trends(limit=0)
