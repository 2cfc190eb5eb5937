"""Least privilege, read from the synthesized policy documents.

See docs/architecture.md, decision 9.
"""

from __future__ import annotations

import fnmatch

from stacks.iam_review import (
    WILDCARD_ALLOWLIST,
    allow_statements,
    principal_problems,
    wildcard_problems,
)
from tests.synth import Synthesized


def test_no_wildcard_action_and_only_allowlisted_wildcard_resources(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synth in (dev, prod):
        statements = list(allow_statements(synth.templates))
        assert len(statements) > 50  # the reader sees every policy, not an empty list
        assert wildcard_problems(synth.templates) == []


def test_allowlist_rejects_what_it_does_not_name() -> None:
    template = {
        "Resources": {
            "Broad": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "s3:Get*",
                                "Resource": "arn:aws:s3:::b/p/x",
                            },
                            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                            {
                                "Effect": "Allow",
                                "Action": "s3:GetObject",
                                "Resource": "arn:aws:s3:::b/*",
                            },
                            {
                                "Effect": "Allow",
                                "Action": "secretsmanager:GetSecret?alue",
                                "Resource": "arn:aws:secretsmanager:eu-west-1:111111111111:"
                                "secret:other/slack-??????",
                            },
                            {
                                "Effect": "Allow",
                                "Action": "secretsmanager:GetSecretValue",
                                "Resource": "arn:aws:secretsmanager:eu-west-1:111111111111:"
                                "secret:glueflow/dev/slack-??????",
                            },
                            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
                        ]
                    }
                },
            }
        }
    }
    assert wildcard_problems({"s": template}) == [
        "s/Broad: wildcard action 's3:Get*'",
        "s/Broad: wildcard resource '*' is not allowlisted",
        "s/Broad: wildcard resource 'arn:aws:s3:::b/*' is not allowlisted",
        "s/Broad: wildcard action 'secretsmanager:GetSecret?alue'",
        "s/Broad: wildcard resource 'arn:aws:secretsmanager:eu-west-1:111111111111:"
        "secret:other/slack-??????' is not allowlisted",
    ]
    assert all(entry.reason for entry in WILDCARD_ALLOWLIST)


def job_policy(synth: Synthesized, job: str) -> list[dict]:
    """The statements of one Glue job's managed policy."""
    for shard in synth.stage.job_shards.values():
        if job in shard.glue_jobs:
            template = synth.template(shard).to_json()
            logical_id = shard.get_logical_id(shard.glue_jobs[job].policy.node.default_child)
            return template["Resources"][logical_id]["Properties"]["PolicyDocument"]["Statement"]
    raise KeyError(job)


def reachable(statements: list[dict], action: str, arn: str) -> bool:
    """Whether an Allow statement grants `action` on `arn` (IAM's glob matching)."""
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if action in actions and any(
            isinstance(r, str) and fnmatch.fnmatchcase(arn, r) for r in resources
        ):
            return True
    return False


def test_a_job_cannot_reach_another_jobs_prefixes(dev: Synthesized) -> None:
    ingest = job_policy(dev, "sales_ingest")
    aggregate = job_policy(dev, "sales_daily_aggregate")
    raw = "arn:aws:s3:::glueflow-dev-raw-111111111111"
    curated = "arn:aws:s3:::glueflow-dev-curated-111111111111"
    artifacts = "arn:aws:s3:::glueflow-dev-artifacts-111111111111"

    # Its own: reads its input, writes its output, its temp dir and script.
    assert reachable(ingest, "s3:GetObject", f"{raw}/sales/incoming/day=1/a.csv")
    assert reachable(ingest, "s3:PutObject", f"{curated}/sales/orders/part-0.parquet")
    assert reachable(ingest, "s3:PutObject", f"{artifacts}/temp/sales_ingest/x")
    assert reachable(ingest, "s3:GetObject", f"{artifacts}/glue_scripts/jobs/sales_ingest.py")
    assert reachable(ingest, "s3:GetObject", f"{artifacts}/glue_scripts/glueflow_glue.zip")
    # Not its input for writing, and nothing of the other job.
    assert not reachable(ingest, "s3:PutObject", f"{raw}/sales/incoming/a.csv")
    assert not reachable(ingest, "s3:GetObject", f"{artifacts}/temp/sales_daily_aggregate/x")
    assert not reachable(ingest, "s3:GetObject", f"{artifacts}/glue_scripts/jobs/customer_ltv.py")
    assert not reachable(ingest, "s3:PutObject", f"{curated}/sales/daily/part-0.parquet")
    # The aggregate may read the ingest's output (it declares it), but never write it.
    assert reachable(aggregate, "s3:GetObject", f"{curated}/sales/orders/part-0.parquet")
    assert not reachable(aggregate, "s3:PutObject", f"{curated}/sales/orders/part-0.parquet")
    assert not reachable(aggregate, "s3:GetObject", f"{raw}/sales/incoming/a.csv")
    # Nothing in its policy names the other job (log groups, temp, reports).
    assert not any(
        "sales_daily_aggregate" in r
        for st in ingest
        for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
        if isinstance(r, str)
    )


def test_listing_is_limited_to_the_declared_prefixes(dev: Synthesized) -> None:
    ingest = job_policy(dev, "sales_ingest")
    listing = [st for st in ingest if st["Action"] == "s3:ListBucket"]
    assert listing
    for st in listing:
        prefixes = st["Condition"]["StringLike"]["s3:prefix"]
        assert all("sales_daily_aggregate" not in p for p in prefixes)
        # Each is a prefix's subtree `K/*`, or its folder key `K` beside it; never `K*`,
        # which would reach a sibling such as `sales/orders2/`.
        assert all(p.endswith("/*") or f"{p}/*" in prefixes for p in prefixes), prefixes


def test_job_roles_reach_their_folders_as_glue_s3a_does(dev: Synthesized) -> None:
    """Glue 5.1's `s3://` is Hadoop S3A ("S3A filesystem has replaced EMRFS as the default S3
    connector", AWS Glue Developer Guide, "Migrating AWS Glue for Spark jobs to AWS Glue version
    5.1"). S3A stats a folder path (no trailing slash) with HeadObject on the key `K` before
    listing `K/`; HeadObject needs s3:GetObject ("HeadObject", Amazon S3 API Reference), and
    Hadoop's example policy grants `users/alice` beside `users/alice/*`, and writers
    s3:ListBucketMultipartUploads ("Working with IAM Assumed Roles", Apache Hadoop hadoop-aws
    documentation)."""
    ingest = job_policy(dev, "sales_ingest")
    curated = "arn:aws:s3:::glueflow-dev-curated-111111111111"
    raw = "arn:aws:s3:::glueflow-dev-raw-111111111111"
    assert reachable(ingest, "s3:GetObject", f"{curated}/sales/orders")  # HEAD of its output
    assert reachable(ingest, "s3:GetObject", f"{raw}/sales/incoming")  # HEAD of its input
    assert reachable(ingest, "s3:GetObject", f"{curated}/sales/orders/runs/jr_1/part-0.parquet")
    assert not reachable(ingest, "s3:GetObject", f"{curated}/sales/orders2")
    assert not reachable(ingest, "s3:PutObject", f"{curated}/sales/orders2/x")
    assert reachable(ingest, "s3:ListBucketMultipartUploads", curated)
    assert not reachable(ingest, "s3:ListBucketMultipartUploads", raw)  # it only reads raw
    listing = {
        st["Resource"]: st["Condition"]["StringLike"]["s3:prefix"]
        for st in ingest
        if st["Action"] == "s3:ListBucket"
    }
    assert {"sales/orders", "sales/orders/*"} <= set(listing[curated])


def mwaa_statements(synth: Synthesized) -> list[dict]:
    orchestration = synth.stage.orchestration
    template = synth.template(orchestration).to_json()
    logical_id = orchestration.get_logical_id(orchestration.mwaa.policy.node.default_child)
    return template["Resources"][logical_id]["Properties"]["PolicyDocument"]["Statement"]


def test_mwaa_role_starts_only_this_environments_glue_jobs(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synth, env, account in ((dev, "dev", "111111111111"), (prod, "prod", "222222222222")):
        statements = mwaa_statements(synth)
        runs = {"glue:BatchStopJobRun", "glue:GetJob", "glue:GetJobRun", "glue:GetJobRuns",
                "glue:StartJobRun"}  # fmt: skip
        glue = [st for st in statements if runs & set(_list(st["Action"]))]
        assert len(glue) == 1
        assert glue[0]["Resource"] == f"arn:aws:glue:eu-west-1:{account}:job/glueflow-{env}-*"
        assert sorted(_list(glue[0]["Action"])) == [
            "glue:BatchStopJobRun",
            "glue:GetJob",
            "glue:GetJobRun",
            "glue:GetJobRuns",
            "glue:StartJobRun",
        ]
        own = f"arn:aws:glue:eu-west-1:{account}:job/glueflow-{env}-sales_ingest"
        assert reachable(statements, "glue:StartJobRun", own)
        other_env = "prod" if env == "dev" else "dev"
        for foreign in (
            f"arn:aws:glue:eu-west-1:{account}:job/glueflow-{other_env}-sales_ingest",
            f"arn:aws:glue:eu-west-1:{account}:job/someone-elses-job",
            f"arn:aws:glue:eu-west-1:{account}:job/glueflow-{env}2-x",
        ):
            assert not reachable(statements, "glue:StartJobRun", foreign)


def test_mwaa_reads_the_secrets_of_its_steps_connections_and_no_other(dev: Synthesized) -> None:
    """GetSecretValue on each connection secret the stack creates (its Ref is its ARN), and
    kms:Decrypt through Secrets Manager only; no airflow/* prefix."""
    template = dev.template(dev.stage.orchestration)
    secrets = sorted(template.find_resources("AWS::SecretsManager::Secret"))
    assert len(secrets) == 3  # dbt_cloud, finance_reporting_api, tableau_cloud
    statements = mwaa_statements(dev)
    (reads,) = [s for s in statements if "secretsmanager:GetSecretValue" in _list(s["Action"])]
    assert reads["Action"] == "secretsmanager:GetSecretValue"
    assert sorted(r["Ref"] for r in reads["Resource"]) == secrets
    secret = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:"  # noqa: S105 - an ARN
    for other in ("airflow/connections/x", "glueflow/dev/slack", "airflow/variables/x"):
        assert not reachable(statements, "secretsmanager:GetSecretValue", f"{secret}{other}")
    (decrypt,) = [s for s in statements if _list(s["Action"]) == ["kms:Decrypt"]]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    }


def _list(value):
    return value if isinstance(value, list) else [value]


def test_mwaa_reads_validation_reports_but_no_data(dev: Synthesized) -> None:
    statements = mwaa_statements(dev)
    artifacts = "arn:aws:s3:::glueflow-dev-artifacts-111111111111"
    assert reachable(statements, "s3:GetObject", f"{artifacts}/validation/sales_ingest/jr_1.json")
    assert not reachable(statements, "s3:GetObject", f"{artifacts}/temp/sales_ingest/x")
    raw = "arn:aws:s3:::glueflow-dev-raw-111111111111"
    assert reachable(statements, "s3:ListBucket", raw)  # the input sensors
    assert not reachable(statements, "s3:GetObject", f"{raw}/sales/incoming/a.csv")
    assert not reachable(statements, "s3:PutObject", f"{artifacts}/validation/sales_ingest/x")


def test_mwaa_publishes_cost_metrics_and_alerts_only_where_it_should(dev: Synthesized) -> None:
    statements = mwaa_statements(dev)
    metrics = [s for s in statements if _list(s["Action"]) == ["cloudwatch:PutMetricData"]]
    namespaces = {s["Condition"]["StringEquals"]["cloudwatch:namespace"] for s in metrics}
    assert namespaces == {"AmazonMWAA", "Glueflow"}
    topic = "arn:aws:sns:eu-west-1:111111111111:glueflow-dev-alerts"
    assert reachable(statements, "sns:Publish", topic)
    assert not reachable(statements, "sns:Publish", topic.replace("dev", "prod"))


def test_mwaa_reads_the_log_tail_of_this_environments_glue_runs_only(dev: Synthesized) -> None:
    statements = mwaa_statements(dev)
    group = "arn:aws:logs:eu-west-1:111111111111:log-group:/aws-glue/jobs"
    own = f"{group}/glueflow-dev-jobs-002-role/glueflow-dev-sales_ingest/error:log-stream:jr_1"
    assert reachable(statements, "logs:GetLogEvents", own)
    other = own.replace("glueflow-dev-", "glueflow-prod-")
    assert not reachable(statements, "logs:GetLogEvents", other)


def test_mwaa_runs_redshift_statements_on_the_configured_workgroup_only(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synth, account, workgroup in (
        (dev, "111111111111", "4a2f9c1e-8b7d-4c3a-9e61-0d5b2f7a8c14"),
        (prod, "222222222222", "9c3e7b21-5d4f-4a8e-b6c2-7f1a0e9d3b58"),  # prod.yaml's override
    ):
        statements = mwaa_statements(synth)
        serverless = f"arn:aws:redshift-serverless:eu-west-1:{account}:workgroup/"
        for action in ("redshift-data:ExecuteStatement", "redshift-serverless:GetCredentials"):
            assert reachable(statements, action, serverless + workgroup)
            assert not reachable(statements, action, serverless + "0" * 36)
        reads = [s for s in statements if "redshift-data:GetStatementResult" in _list(s["Action"])]
        assert [s["Condition"] for s in reads] == [
            {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}
        ]
        cluster = f"arn:aws:redshift:eu-west-1:{account}:cluster:analytics"
        assert not reachable(statements, "redshift-data:ExecuteStatement", cluster)


def test_a_provisioned_cluster_step_gets_its_cluster_and_its_credentials_only() -> None:
    from aws_cdk import App, Environment, Stack

    from configs.models import JobConfig
    from stacks.cdk_context import project_context
    from stacks.orchestration_stack import OrchestrationStack, policy_statements
    from tests.conftest import valid_job

    secret = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:redshift/etl-AbC123"  # noqa: S105
    steps = [
        {"type": "redshift_sql", "name": "iam_auth", "cluster_identifier": "mart",
         "database": "sales", "sql": "select 1"},
        {"type": "redshift_sql", "name": "secret_auth", "cluster_identifier": "legacy",
         "database": "dw", "sql": "select 1", "secret_arn": secret},
    ]  # fmt: skip
    jobs = {"mart_load": JobConfig.model_validate(valid_job("mart_load", downstream=steps))}
    # The project's context: with it, CDK writes the partition of a known region literally.
    app = App(context=project_context())
    stack = Stack(app, "S", env=Environment(account="111111111111", region="eu-west-1"))
    statements = [
        stack.resolve(s.to_statement_json())
        for s in policy_statements(OrchestrationStack._step_grants(stack, jobs))
    ]
    redshift = "arn:aws:redshift:eu-west-1:111111111111"
    for cluster in ("mart", "legacy"):
        assert reachable(
            statements, "redshift-data:ExecuteStatement", f"{redshift}:cluster:{cluster}"
        )
    assert reachable(
        statements, "redshift:GetClusterCredentialsWithIAM", f"{redshift}:dbname:mart/sales"
    )
    # the step with a secret signs in with it, not with IAM credentials
    assert not reachable(
        statements, "redshift:GetClusterCredentialsWithIAM", f"{redshift}:dbname:legacy/dw"
    )
    assert reachable(statements, "secretsmanager:GetSecretValue", secret)
    assert not reachable(statements, "redshift-data:ExecuteStatement", f"{redshift}:cluster:other")


# The key policy example of "Setting up AWS Glue to use security configurations" (AWS Glue
# Developer Guide, "Encrypting data written by AWS Glue"): the roles passed to Glue jobs that
# write encrypted CloudWatch Logs need these on the key the security configuration names.
GLUE_LOG_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                        "kms:Describe*")  # fmt: skip
# Each pattern above, as the concrete actions KMS has for it (AWS KMS API Reference, Actions).
KMS_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
               "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey",
               "kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext",
               "kms:DescribeCustomKeyStores")  # fmt: skip


def test_each_glue_role_may_use_the_key_that_encrypts_its_logs(dev: Synthesized) -> None:
    for shard in dev.stage.job_shards.values():
        template = dev.template(shard).to_json()
        (config,) = [
            r["Properties"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::Glue::SecurityConfiguration"
        ]
        log_key = config["EncryptionConfiguration"]["CloudWatchEncryption"]["KmsKeyArn"]
        for job in shard.glue_jobs:
            statements = job_policy(dev, job)
            for pattern in GLUE_LOG_KEY_ACTIONS:
                granted = [
                    action
                    for st in statements
                    if log_key in (st["Resource"] if isinstance(st["Resource"], list) else
                                   [st["Resource"]])
                    for action in (st["Action"] if isinstance(st["Action"], list) else
                                   [st["Action"]])
                    if fnmatch.fnmatchcase(action, pattern)
                ]  # fmt: skip
                assert granted, (job, pattern)
                assert all(a in KMS_ACTIONS for a in granted)


def test_no_wildcard_principal_and_no_other_account_as_a_whole(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synth, account in ((dev, "111111111111"), (prod, "222222222222")):
        assert principal_problems(synth.templates, {account}) == []


def test_a_wildcard_principal_or_a_bare_other_account_is_refused() -> None:
    """ "AWS JSON policy elements: Principal" (IAM User Guide): `"*"` or `{"AWS": "*"}` is
    everyone; `arn:aws:iam::<account>:root`, or the bare account id, is every principal the
    account allows. A role is named with `aws:PrincipalArn` ("AWS global condition context
    keys")."""

    def policy(principal, condition=None):
        body = {
            "Effect": "Allow",
            "Principal": principal,
            "Action": "events:PutEvents",
            "Resource": "arn:aws:events:eu-west-1:111111111111:event-bus/default",
        }
        if condition:
            body["Condition"] = condition
        return {"Type": "AWS::Events::EventBusPolicy", "Properties": {"Statement": body}}

    template = {"Resources": {
        "Anyone": policy("*"),
        "AnyAws": policy({"AWS": "*"}),
        "Account": policy({"AWS": "arn:aws:iam::333333333333:root"}),
        "BareAccount": policy({"AWS": "333333333333"}),
        "Named": policy({"AWS": "arn:aws:iam::333333333333:root"}, {"StringEquals": {
            "aws:PrincipalArn": "arn:aws:iam::333333333333:role/forward"}}),
        "Own": policy({"AWS": "arn:aws:iam::111111111111:root"}),
        "Service": policy({"Service": "events.amazonaws.com"}),
    }}  # fmt: skip

    assert principal_problems({"s": template}, {"111111111111"}) == [
        "s/Account: account 333333333333 as a whole; name its role with aws:PrincipalArn or "
        "aws:SourceArn",
        "s/AnyAws: wildcard principal '*'",
        "s/Anyone: wildcard principal '*'",
        "s/BareAccount: account 333333333333 as a whole; name its role with aws:PrincipalArn "
        "or aws:SourceArn",
    ]
