"""Stand-in for `getResolvedOptions` in `awsglue/utils.py` of aws-glue-libs, branch glue-5.0
(identical on glue-5.1, which Glue 5.1 runs; `main`, Glue 6.0, only adds `allow_abbrev=False`).

Behaviour reproduced, in upstream's order:

1. Names the caller may not ask for raise `RuntimeError("Using reserved arguments ...")`:
   `job-bookmark-option`, `continuation-option`, `job-bookmark-from`, `job-bookmark-to`
   (compared without their dashes), and `--JOB_ID`, `--JOB_RUN_ID`, `--SECURITY_CONFIGURATION`,
   `--encryption-type`, `--enable-data-lineage` (compared *with* their dashes, so a plain
   `JOB_RUN_ID` slips past this check).
2. Glue's own options are registered first, all optional: the bookmark and continuation
   options (with their choices), the bookmark range, `--JOB_ID`, `--JOB_RUN_ID`,
   `--SECURITY_CONFIGURATION`, `--encryption-type`, `--enable-data-lineage`, `--RedshiftTempDir`
   and `--TempDir` (the last two are dropped from the caller's list).
3. Each name the caller asks for becomes a *required* `--name` option. Asking again for one
   registered in step 2 (`JOB_RUN_ID`, say) makes argparse raise
   `argparse.ArgumentError: argument --JOB_RUN_ID: conflicting option string: --JOB_RUN_ID`.
4. `parse_known_args(args[1:])`: unknown arguments are ignored; a missing required one raises
   `GlueArgumentError` (the parser raises instead of exiting). argparse turns hyphens in an
   option's name into underscores in the result's keys (`--glueflow-inputs` ->
   `glueflow_inputs`), and accepts unambiguous abbreviations (Glue 5.x).
5. TempDir and RedshiftTempDir mirror each other; `continuation_option` is removed and, with no
   `--job-bookmark-option`, translated to it; with neither, `job_bookmark_option` is
   `job-bookmark-disable`. A range (`--job-bookmark-from/--to`) needs both ends with
   `job-bookmark-pause` and is refused without it.

Glue passes `--JOB_ID`, `--JOB_RUN_ID` and `--JOB_NAME` to every run (AWS Glue developer guide,
"Using job parameters in AWS Glue jobs", docs.aws.amazon.com/glue/latest/dg/
aws-glue-programming-etl-glue-arguments.html), so a script reads the run id from the result
without asking for it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from awsglue.job import Job

_global_args: dict[str, Any] = {}


class GlueArgumentError(Exception):
    """A required option is missing or a value is not an accepted choice."""


class GlueArgumentParser(argparse.ArgumentParser):
    """Raises instead of printing usage and exiting, so the error reaches the job's log."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise GlueArgumentError(message)


def _refuse(name: str, shown: str | None = None) -> None:
    raise RuntimeError(f"Using reserved arguments {shown or name}")


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, Any]:
    """The run's arguments as a dict: Glue's own, plus every name in `options` (required)."""
    bookmark, continuation = Job.job_bookmark_options(), Job.continuation_options()
    ranges = Job.job_bookmark_range_options()
    encryption, lineage = Job.encryption_type_options(), Job.data_lineage_options()

    # 1. Reserved names, checked as upstream checks them (some bare, some with dashes).
    for name in (continuation[0][2:], bookmark[0][2:]):
        if name in options:
            _refuse(name)
    for option in ranges:
        if option[2:] in options:
            _refuse(option)
    for option in [*Job.id_params()[1:], encryption[0], lineage[0]]:
        if option in options:
            _refuse(option)

    # 2. Glue's own options, optional.
    parser = GlueArgumentParser()
    parser.add_argument(bookmark[0], choices=bookmark[1:], required=False)
    parser.add_argument(continuation[0], choices=continuation[1:], required=False)
    for option in ranges:
        parser.add_argument(option, required=False)
    for option in Job.id_params()[1:]:
        parser.add_argument(option, required=False)
    parser.add_argument(encryption[0], choices=encryption[1:])
    parser.add_argument(lineage[0], required=False)
    parser.add_argument("--RedshiftTempDir", required=False)
    parser.add_argument("--TempDir", required=False)

    # 3. The caller's names, required; a name registered above conflicts here.
    for name in options:
        if name not in ("RedshiftTempDir", "TempDir"):
            parser.add_argument(f"--{name}", required=True)

    # 4. Unknown arguments (Glue passes many) are ignored.
    parsed, _unknown = parser.parse_known_args(list(args[1:]))
    resolved = vars(parsed)

    # 5. Glue's post-processing.
    if resolved.get("TempDir") is not None:
        resolved["RedshiftTempDir"] = resolved["TempDir"]
    elif resolved.get("RedshiftTempDir") is not None:
        resolved["TempDir"] = resolved["RedshiftTempDir"]
    legacy = resolved.pop("continuation_option", None)
    if resolved.get("job_bookmark_option") is None:
        resolved["job_bookmark_option"] = (
            bookmark[3] if legacy is None else bookmark[continuation.index(legacy)]
        )
    missing = [o for o in ranges if resolved.get(o[2:].replace("-", "_")) is None]
    if resolved["job_bookmark_option"] == "job-bookmark-pause":
        if len(missing) == 1:
            raise RuntimeError(f"Missing option or value for {missing[0]}")
    elif not missing:
        raise RuntimeError("Invalid option(s)" + " ".join(ranges))

    _global_args.update(resolved)
    return resolved
