"""`make review`, as a reviewer runs it, on fixture changes made in a clone.

Each test changes the clone's working tree the way a contributor would, runs `make review
BASE=HEAD ENV=dev` (the clone's HEAD is this repository's), and checks what the review says,
then puts the working tree back. The base synth is kept by commit, so only the first review
synthesizes it. What CloudFormation would replace or delete comes from
@aws-cdk/cloudformation-diff, the library `cdk diff` uses; the expectations below come from
the CloudFormation resource reference (a Glue job's `Name` and a log group's `LogGroupName`
require replacement: "AWS::Glue::Job" and "AWS::Logs::LogGroup", AWS CloudFormation User
Guide).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.local.test_demo import MAKE, clean_env
from tests.test_clone import GIT, borrowing_clone

# Slow, not in `make test-fast`: clones the repository and runs `make review` (two synths).
pytestmark = pytest.mark.slow

REVIEW_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return borrowing_clone(tmp_path_factory.mktemp("review") / "glueflow")


@pytest.fixture
def tree(clone: Path):
    """The clone's working tree, put back as committed after the test."""
    yield clone
    subprocess.run([GIT, "checkout", "--quiet", "--", "."], cwd=clone, check=True)
    # Not the borrowed toolchain: symlinks are files to git, so .gitignore's .venv/ misses them.
    subprocess.run([GIT, "clean", "-fdq", "-e", ".venv", "-e", "node_modules"], cwd=clone,
                   check=True)  # fmt: skip


def review(clone: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAKE, "--no-print-directory", "-o", ".venv/.installed", "review", "BASE=HEAD",
         "ENV=dev", *extra],
        cwd=clone, env=clean_env(), capture_output=True, text=True, timeout=REVIEW_TIMEOUT_S,
    )  # fmt: skip


def passing_review(clone: Path, *extra: str) -> str:
    """The review's output, which must have exited 0."""
    done = review(clone, *extra)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def gating_review(clone: Path, *extra: str) -> str:
    """The review's output, which must have exited 1 through its FAIL_ON gate: make reports
    the recipe's `Error 1`."""
    done = review(clone, *extra)
    assert "Error 1" in done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} changed: {old!r} not in it"
    path.write_text(text.replace(old, new))


def test_a_change_that_touches_nothing_says_so_in_one_line(tree: Path) -> None:
    (tree / "NOTES.md").write_text("a file nothing deploys\n")
    out = passing_review(tree)
    assert out.strip().splitlines()[-1] == "dev: no change to what deploys"


def test_adding_a_job(tree: Path) -> None:
    shutil.copy(tree / "glue_scripts/jobs/sales_ingest.py", tree / "glue_scripts/jobs/returns.py")
    (tree / "configs/jobs/returns.yaml").write_text(
        (tree / "configs/jobs/sales_ingest.yaml").read_text()
        .replace("name: sales_ingest", "name: returns")
        .replace("glue_scripts/jobs/sales_ingest.py", "glue_scripts/jobs/returns.py")
        .replace("sales/incoming/", "returns/incoming/")
        .replace("prefix: sales/orders/", "prefix: returns/")
        .replace("table: sales_orders", "table: returns")
    )  # fmt: skip
    out = passing_review(tree)
    # Its tables, with their schema, as readers will see them.
    assert "added glueflow_dev.returns (order_id string, store_id string, sold_at timestamp, " in (
        out
    )
    assert "partitioned by sale_date date, source_id string)" in out
    assert "added glueflow_dev.returns_quarantine (record string, reasons array<string>, " in out
    assert (
        "added returns: 4 x G.1X, started by s3://glueflow-dev-raw-111111111111/returns/incoming/*.csv"
        in out
    )
    assert "glue_scripts/jobs/returns.py added" in out
    # Its new role may do what it could not: permissions broaden, through a new principal,
    # whose grants are one line: what it reads and writes, the standard ones summed up.
    assert "BROADENED" in out
    role = [line.strip() for line in out.splitlines() if "/Returns/Access/Role (new): " in line]
    assert len(role) == 1, out[-4000:]
    assert role[0].endswith(
        "reads s3://glueflow-dev-raw-111111111111/returns/incoming/; "
        "writes s3://glueflow-dev-curated-111111111111/returns/; and a Glue job's standard "
        "grants (2 artifacts reads, 4 artifacts writes, 2 log groups, 2 keys, metrics in "
        "namespace Glue); assumed by glue.amazonaws.com"
    )
    # The raw statements are counted in the text, listed (collapsed) in the Markdown.
    assert "IAM statements: " in out
    markdown = (tree / "build/review/review.md").read_text()
    assert "<details><summary>IAM statements: " in markdown
    assert "sts:AssumeRole" in markdown
    # cdk-nag's IAM5 finding on its role's prefix wildcard is acknowledged, and the review says so.
    policy = "/dev/Jobs019/Returns/Access/Policy"
    acknowledged = [line for line in out.splitlines()
                    if f"acknowledgements added on {policy}: " in line]  # fmt: skip
    assert acknowledged, out[-4000:]
    rule = "AwsSolutions-IAM5[Resource::arn:aws:s3:::glueflow-dev-curated-111111111111/returns/*]"
    assert rule in acknowledged[0]
    # 4 workers x 1 DPU (G.1X, AWS Glue pricing page) x 10 and 30 minutes at $0.44
    # (configs/environments/dev.yaml), against $2.
    assert (
        "returns per run (4 x G.1X, standard): 0.29 at its typical 10 min; "
        "0.88 at its timeout 30 min; budget 2.00"
    ) in out


def test_a_schema_change_shows_as_readers_see_it(tree: Path) -> None:
    """A column added and a column retyped in a job's config: the catalog table's definition
    changes (an update in place: "AWS::Glue::Table", TableInput, AWS CloudFormation User
    Guide: "Update requires: No interruption"), and the review names each column."""
    path = tree / "configs/jobs/sales_ingest.yaml"
    _edit(path, "      quantity: int\n", "      quantity: bigint\n      channel: string\n")
    out = passing_review(tree)
    lines = [line.strip() for line in out.splitlines()]
    changed = lines.index("changed glueflow_dev.sales_orders:")
    assert lines[changed + 1 : changed + 3] == [
        "column channel string added",
        "column quantity: int -> bigint (published files keep the old type)",
    ]
    assert "Tables" in out
    assert "Destruction" not in out  # the table is updated, not replaced


def test_widening_an_input_prefix_broadens_access(tree: Path) -> None:
    inputs = "inputs:\n  - bucket: raw\n    prefix: sales/"
    _edit(tree / "configs/jobs/sales_ingest.yaml", f"{inputs}incoming/", inputs)
    out = gating_review(tree, "FAIL_ON=access")
    assert "changed sales_ingest:" in out
    # Field by field: the input's prefix, not the inputs list as JSON.
    assert "inputs[0].prefix: sales/incoming/ -> sales/" in out
    assert "BROADENED" in out
    # Named as a widening of the role's old prefix, once, on the role's construct path.
    raw = "s3://glueflow-dev-raw-111111111111"
    wider = [line for line in out.splitlines() if "(wider: was " in line]
    assert len(wider) == 1, out[-3000:]
    assert "/SalesIngest/Access/Role: reads " in wider[0]
    assert (
        f"{raw}/sales/ (wider: was {raw}/sales/incoming/) instead of {raw}/sales/incoming/"
        in (wider[0])
    )
    raw_rows = (tree / "build/review/review.md").read_text()
    assert "arn:aws:s3:::glueflow-dev-raw-111111111111/sales/\\*" in raw_rows  # escaped *


def test_renaming_a_job_replaces_it_and_loses_its_history(tree: Path) -> None:
    old = tree / "configs/jobs/sales_daily_aggregate.yaml"
    (tree / "configs/jobs/sales_daily_totals.yaml").write_text(
        old.read_text().replace("name: sales_daily_aggregate", "name: sales_daily_totals")
    )
    old.unlink()
    _edit(tree / "configs/jobs/customer_ltv.yaml", "  - sales_daily_aggregate",
          "  - sales_daily_totals")  # fmt: skip
    _edit(tree / "configs/environments/dev.yaml", "  sales_daily_aggregate:",
          "  sales_daily_totals:")  # fmt: skip
    out = gating_review(tree, "FAIL_ON=destructive")
    assert "removed sales_daily_aggregate" in out
    assert "added sales_daily_totals" in out
    assert "loses the job's run history and bookmarks" in out
    assert "loses the log group's history" in out


def test_a_renamed_output_prefix_is_said_once(tree: Path) -> None:
    """The prefix is one field in Jobs; the table's location, the role's grants and cdk-nag's
    acknowledgements follow it, and only the grants are said again, as one change."""
    _edit(tree / "configs/jobs/marketing_events_ingest.yaml",
          "outputs:\n  - bucket: curated\n    prefix: marketing/events/",
          "outputs:\n  - bucket: curated\n    prefix: marketing/clickstream/")  # fmt: skip
    out = passing_review(tree)
    lines = [line.strip() for line in out.splitlines()]
    assert "outputs[0].prefix: marketing/events/ -> marketing/clickstream/" in lines
    assert not any(line.startswith("outputs[0].uri") for line in lines)
    assert not any(line.startswith("location: ") for line in lines)
    assert not any("acknowledgements" in line and "MarketingEventsIngest" in line for line in lines)
    curated = "s3://glueflow-dev-curated-111111111111"
    assert (
        f"dev/Jobs019/MarketingEventsIngest/Access/Role: writes {curated}/marketing/clickstream/ "
        f"instead of {curated}/marketing/events/"
    ) in lines


def test_changing_the_mwaa_environment_class(tree: Path) -> None:
    _edit(tree / "configs/environments/dev.yaml", "environment_class: mw1.small",
          "environment_class: mw1.medium")  # fmt: skip
    out = passing_review(tree)
    assert "fixed monthly: " in out
    assert "MWAA workers range from 1 to 2" in out


def test_adding_an_alert_channel(tree: Path) -> None:
    _edit(tree / "configs/environments/dev.yaml", "    secret_name: glueflow/dev/slack-webhook\n",
          "    secret_name: glueflow/dev/slack-webhook\n  - type: teams\n"
          "    secret_name: glueflow/dev/teams-webhook\n")  # fmt: skip
    out = passing_review(tree)
    # The notifier may now read the new channel's secret: a new resource for its role. Secrets
    # Manager appends six random characters to a secret's name, so the ARN ends in `-??????`
    # ("Resource: Secrets Manager secret ARN", AWS Secrets Manager User Guide).
    arn = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:glueflow/dev/teams-webhook-??????"
    role = "dev/Monitoring/Notifier/Access/Role"
    assert f"{role}: now secretsmanager:GetSecretValue on {arn}" in out, out[-3000:]


def test_changing_only_a_glue_script_is_a_code_change(tree: Path) -> None:
    _edit(tree / "glue_scripts/jobs/sales_ingest.py", '"""sales_ingest:', '"""sales_ingest (v2):')
    out = passing_review(tree, "FAIL_ON=destructive,access")
    assert "glue_scripts/jobs/sales_ingest.py changed" in out
    for section in ("Destruction", "Access", "  Jobs"):
        assert section not in out


def test_an_internet_step_with_egress_is_flagged_and_lists_its_new_secret(tree: Path) -> None:
    """Turning egress on adds a NAT gateway (a network broadening, gated by FAIL_ON=network);
    the step's connection is a new secret, created empty, that someone must fill. On prod,
    whose file has no egress (dev's has; make's last ENV= wins)."""
    _edit(tree / "configs/environments/prod.yaml", "network:\n  new_vpc:\n",
          "network:\n  egress: true\n  new_vpc:\n")  # fmt: skip
    _edit(tree / "configs/jobs/sales_ingest.yaml", "downstream:\n",
          "downstream:\n  - type: http\n    name: tell_crm\n    after: []\n"
          "    connection: crm_api\n    endpoint: /v1/orders/refresh\n")  # fmt: skip
    out = gating_review(tree, "FAIL_ON=network", "ENV=prod")
    assert "BROADENED: internet egress is being turned on" in out, out[-3000:]
    assert "(AWS::EC2::NatGateway): will_create" in out
    assert "new secret airflow/connections/crm_api: created empty" in out
    # the job's step graph as it now runs: the new step first, then the Redshift one after it
    lines = [line.strip() for line in out.splitlines()]
    first = lines.index("step: tell_crm (http POST crm_api/v1/orders/refresh)")
    assert lines[first + 1] == "step: refresh_orders_mart (redshift_sql analytics)"


def test_cross_account_grants_are_listed_on_both_sides(tree: Path) -> None:
    """agency_spend_ingest narrowed to a sub-prefix of what the agency offers: each grant that
    crosses accounts moves, on this side (the job role's reads) and on the agency's (its bucket
    policy and its forwarding rule, from its own stack as `make deploy-source` synthesizes
    it); the new ones are a broadening, as any added grant is."""
    _edit(tree / "configs/jobs/agency_spend_ingest.yaml", "prefix: glueflow/spend/\n    format",
          "prefix: glueflow/spend/eu/\n    format")  # fmt: skip
    _edit(tree / "configs/jobs/agency_spend_ingest.yaml", "prefix: glueflow/spend/\n    suffix",
          "prefix: glueflow/spend/eu/\n    suffix")  # fmt: skip
    out = passing_review(tree)

    lines = [line.strip() for line in out.splitlines() if "cross-account grant" in line]
    bucket = "arn:aws:s3:::adsmetrics-exports-333333333333"
    role = "glueflow-dev-agency_spend_ingest"
    for sign, prefix in (("added", "glueflow/spend/eu/"), ("removed", "glueflow/spend/")):
        # this account: the job's role on the agency's objects
        assert (
            f"cross-account grant {sign}: glueflow-dev-jobs-022: {role} may s3:GetObject, "
            f"s3:GetObjectVersion on {bucket}/{prefix}* (account 333333333333)"
        ) in lines
        # the agency's account: its bucket policy letting this account's role in
        assert any(
            line.startswith(f"cross-account grant {sign}: glueflow-dev-source-agency: "
                            "AWS::S3::BucketPolicy lets account 111111111111 s3:GetObject, "
                            f"s3:GetObjectVersion on {bucket}/{prefix}* when aws:PrincipalArn "
                            f"arn:aws:iam::111111111111:role/{role}")
            for line in lines
        ), lines  # fmt: skip
        # and its rule, forwarding only that prefix's events to this account's bus
        assert any(
            f"cross-account grant {sign}: glueflow-dev-source-agency: rule " in line
            and f'{{"prefix": "{prefix}"}}' in line
            and line.endswith("to arn:aws:events:eu-west-1:111111111111:event-bus/default")
            for line in lines
        ), lines
    assert "BROADENED" in out
