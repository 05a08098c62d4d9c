"""Verify a stored analysis: re-run its stored input and compare (FEATURES.md H1).

``ganglioside-nb db verify ID`` and :meth:`AnalysisService.verify` call
:func:`verify_session`. It checks that the stored input bytes still have the SHA-256 recorded
when they were stored, analyses them again with the stored parameters, in this process and with
the installed versions, and compares the new result with the stored one table by table
(:meth:`AnalysisResult.differences`). Nothing is written: a verification changes no session.
"""

from __future__ import annotations

import hashlib
import html
import time
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..core.pipeline import analyze, library_versions
from ..errors import GangliosideError, InvalidTransitionError
from ..params import AnalysisParams
from ..persistence import Repository

__all__ = ["Verification", "verify_session"]

#: Differences listed by ``summary()`` (all are kept in ``differences``).
_SHOWN = 20


@dataclass(frozen=True)
class Verification:
    """The outcome of re-running a stored analysis.

    identical : the input is intact and the new result equals the stored one.
    input_intact : the stored input bytes still have the recorded SHA-256.
    differences : one line per difference (empty when identical); a re-run that failed says why.
    stored_version, current_version : the package versions that made each result.
    library_changes : library -> (stored version, installed version), for those that differ.
    """

    session_id: int
    identical: bool
    input_intact: bool
    input_sha256: str
    differences: tuple[str, ...]
    stored_version: str
    current_version: str
    library_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        """A few lines for terminals and logs."""
        verdict = ("identical: the stored input, re-analysed now, gives the stored result"
                   if self.identical else "NOT identical")
        lines = [f"session {self.session_id}: {verdict} ({self.seconds:.2f} s)",
                 f"input sha256 {self.input_sha256} "
                 f"{'intact' if self.input_intact else 'CHANGED since it was stored'}",
                 f"stored with ganglioside_nb {self.stored_version}, re-run with {self.current_version}"]
        lines += [f"library {name}: {old} then, {new} now"
                  for name, (old, new) in sorted(self.library_changes.items())]
        lines += [f"- {line}" for line in self.differences[:_SHOWN]]
        if len(self.differences) > _SHOWN:
            lines.append(f"... and {len(self.differences) - _SHOWN} more differences")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<Verification session={self.session_id} identical={self.identical} "
                f"differences={len(self.differences)}>")

    def _repr_html_(self) -> str:
        colour = "#1b9e77" if self.identical else "#d95f02"
        head, *rest = self.summary().splitlines()
        items = "".join(f"<li>{html.escape(line)}</li>" for line in rest)
        return (f"<div class='gnb-verification'><b style='color:{colour}'>{html.escape(head)}</b>"
                f"<ul>{items}</ul></div>")


def verify_session(repository: Repository, session_id: int) -> Verification:
    """Re-run a completed session's stored input with its stored parameters and compare.

    Parameters
    ----------
    repository : Repository
        The owner's repository (its scoping applies: another owner's id is not found).
    session_id : int
        A ``completed`` session.

    Returns
    -------
    Verification

    Raises
    ------
    SessionNotFoundError, InvalidTransitionError (the session is not completed),
    DatabaseUnavailableError
    """
    started = time.perf_counter()
    info = repository.get_session(session_id)
    if info.status != "completed":
        raise InvalidTransitionError(
            f"Analysis session {session_id} must be completed to be verified. "
            f"Got status {info.status!r} instead.", session_id=session_id, status=info.status)
    stored = repository.load_result(session_id)
    raw = repository.load_input(session_id)
    found = hashlib.sha256(raw).hexdigest()
    intact = found == info.input_sha256
    differences: tuple[str, ...]
    if not intact:
        differences = (f"input: the stored bytes' sha256 is {found}, "
                       f"not the recorded {info.input_sha256}; not re-run",)
    else:
        try:
            again = analyze(raw, AnalysisParams.from_dict(info.params), filename=info.input_filename)
        except GangliosideError as exc:  # e.g. a newer version rejects what an older one read
            differences = (f"re-run failed: {exc}",)
        else:
            differences = stored.differences(again)
    stored_libraries = dict(stored.provenance.get("libraries") or {})
    current_libraries = dict(library_versions())
    changes = {name: (stored_libraries.get(name), current_libraries.get(name))
               for name in sorted(set(stored_libraries) | set(current_libraries))
               if stored_libraries.get(name) != current_libraries.get(name)}
    return Verification(
        session_id=session_id, identical=intact and not differences, input_intact=intact,
        input_sha256=info.input_sha256, differences=differences, stored_version=stored.version,
        current_version=__version__, library_changes=changes,
        seconds=time.perf_counter() - started)
