"""Stand-in for `awsglue/job.py` of aws-glue-libs, branch glue-5.0 (same on glue-5.1 and main).

The option-name lists are the ones upstream's `Job` class returns (they are what
`getResolvedOptions` registers before the caller's names). `init` and `commit` record what
happened instead of calling Glue's JVM `Job`, so a test can see that a run committed (which on
Glue saves the job bookmark).
"""

from __future__ import annotations

from typing import Any, ClassVar


class Job:
    """A Glue job run: `init` at the start, `commit` at the end."""

    # Every Job a test run created, oldest first; tests clear it between runs.
    created: ClassVar[list[Job]] = []

    @classmethod
    def continuation_options(cls) -> list[str]:
        """The legacy bookmark option, then its values (index-aligned with the new ones)."""
        return ["--continuation-option", "continuation-enabled", "continuation-readonly",
                "continuation-ignore"]  # fmt: skip

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        """`--job-bookmark-option`, then its values: enable, pause, disable."""
        return ["--job-bookmark-option", "job-bookmark-enable", "job-bookmark-pause",
                "job-bookmark-disable"]  # fmt: skip

    @classmethod
    def job_bookmark_range_options(cls) -> list[str]:
        return ["--job-bookmark-from", "--job-bookmark-to"]

    @classmethod
    def id_params(cls) -> list[str]:
        """JOB_NAME first: upstream registers all but it as reserved."""
        return ["--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION"]

    @classmethod
    def encryption_type_options(cls) -> list[str]:
        return ["--encryption-type", "sse-s3"]

    @classmethod
    def data_lineage_options(cls) -> list[str]:
        return ["--enable-data-lineage"]

    def __init__(self, glue_context: Any) -> None:
        self.glue_context = glue_context
        self.name: str | None = None
        self.args: dict[str, Any] = {}
        self.committed = False
        Job.created.append(self)

    def init(self, job_name: str, args: dict[str, Any] | None = None) -> None:
        self.name, self.args = job_name, dict(args or {})

    def isInitialized(self) -> bool:
        return self.name is not None

    def commit(self) -> None:
        if not self.isInitialized():
            raise RuntimeError("stand-in: Job.commit() before Job.init()")
        self.committed = True
