"""Analysis sessions: the background jobs that tie execution (where) to persistence (what).

Example (a database and a cluster are needed, so this is not a doctest)::

    from ganglioside_nb.api import AnalysisService
    service = AnalysisService()                      # DATABASE_URL or SQLite; local cluster
    job = service.submit(gnb.datasets.sample_path(), name="porcine brain")
    for event in job:                                # live: one line per rule, then the end
        print(event.describe())
    print(service.result(job).summary())
"""

from .health import health
from .jobs import run_analysis_job, run_session_job
from .sessions import AnalysisService, failed_job

__all__ = ["AnalysisService", "failed_job", "health", "run_analysis_job", "run_session_job"]
