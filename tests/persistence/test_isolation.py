"""Owner scoping: another owner's session answers exactly like a missing id (FEATURES.md
"Identity and ownership"); only admins purge and clean up across owners."""

from __future__ import annotations

import pytest

from ganglioside_nb.errors import InvalidParameterError, SessionNotFoundError
from ganglioside_nb.persistence import Repository

from .conftest import SAMPLE_5, count_rows

MISSING_ID = 2_000_000_000


def _calls(repo: Repository, session_id: int, small_result) -> dict[str, object]:
    return {
        "get_session": lambda: repo.get_session(session_id, include_deleted=True),
        "load_result": lambda: repo.load_result(session_id),
        "load_input": lambda: repo.load_input(session_id),
        "rename": lambda: repo.rename(session_id, "mine now"),
        "export": lambda: repo.export(session_id, "csv"),
        "record_export": lambda: repo.record_export(session_id, "csv"),
        "soft_delete": lambda: repo.soft_delete(session_id),
        "restore": lambda: repo.restore(session_id),
        "purge": lambda: repo.purge(session_id),
        "mark_running": lambda: repo.mark_running(session_id),
        "mark_failed": lambda: repo.mark_failed(session_id, "x"),
        "mark_cancelled": lambda: repo.mark_cancelled(session_id),
        "save_result": lambda: repo.save_result(session_id, small_result),
        "audit_log": lambda: repo.audit_log(session_id),
    }


def test_another_owner_cannot_see_or_touch_a_session(repo: Repository, other_repo: Repository,
                                                     engine, completed: int, small_result) -> None:
    assert other_repo.list_sessions(include_deleted=True) == []
    assert other_repo.audit_log() == []
    assert other_repo.health()["counts"]["completed"] == 0
    for name, call in _calls(other_repo, completed, small_result).items():
        with pytest.raises(SessionNotFoundError) as foreign:
            call()  # type: ignore[operator]
        with pytest.raises(SessionNotFoundError) as missing:
            _calls(other_repo, MISSING_ID, small_result)[name]()  # type: ignore[operator]
        assert str(foreign.value).replace(f"Got {completed} ", "Got ID ") == str(
            missing.value).replace(f"Got {MISSING_ID} ", "Got ID "), name
    # nothing changed for the owner
    info = repo.get_session(completed)
    assert (info.name, info.status, info.deleted_at) == ("five rows", "completed", None)
    assert count_rows(engine, "compound", completed) == 5
    assert [e.action for e in repo.audit_log(completed)] == ["created", "completed"]


def test_the_owner_sees_only_their_own_sessions(repo: Repository, other_repo: Repository) -> None:
    mine = repo.create_session(SAMPLE_5, name="shared name")
    theirs = other_repo.create_session(SAMPLE_5, name="shared name")
    assert [s.id for s in repo.list_sessions(search="shared")] == [mine]
    assert [s.id for s in other_repo.list_sessions(search="shared")] == [theirs]
    assert {e.session_id for e in repo.audit_log()} == {mine}


def test_admins_purge_and_clean_up_across_owners(engine, repo: Repository, completed: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    admin = Repository(engine, owner="lab-admin")
    monkeypatch.setenv("GANGLIOSIDE_NB_ADMINS", "someone, lab-admin")
    assert admin.is_admin and not repo.is_admin
    with pytest.raises(SessionNotFoundError):
        admin.rename(completed, "not across owners")  # admins do not read or edit others' data
    assert any(s.id == completed for s in admin.cleanup_older_than(0, all_owners=True))
    trashed = repo.create_session(SAMPLE_5)
    repo.soft_delete(trashed)
    assert trashed in [s.id for s in admin.purge_trash_older_than(0, all_owners=True, dry_run=False)]
    assert repo.audit_log(trashed)[-1].actor == "lab-admin"
    purged = admin.purge(completed)
    assert purged.owner == repo.owner
    with pytest.raises(SessionNotFoundError):
        repo.get_session(completed)
    event = repo.audit_log(completed)[-1]
    assert (event.action, event.owner, event.actor) == ("purged", repo.owner, "lab-admin")
    monkeypatch.delenv("GANGLIOSIDE_NB_ADMINS")
    with pytest.raises(InvalidParameterError, match="reserved to the owners"):
        admin.cleanup_older_than(0, all_owners=True)
