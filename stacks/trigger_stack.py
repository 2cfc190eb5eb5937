"""Event-driven runs: one EventBridge rule per source bucket -> the intake queue -> the
trigger Lambda (docs/architecture.md, decisions 5 and 6)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs.messaging.dead_letters import encrypted_queue, queue_depth_alarm
from cdk_constructs.nag import acknowledge
from cdk_constructs.orchestration.dag_trigger import DagTriggerFunction
from cdk_constructs.security.managed_policy_role import ManagedPolicyRole, allow
from configs import naming, table_events
from configs.loader import REPO_ROOT
from configs.models import EnvironmentConfig, JobConfig

TRIGGER_SOURCE = REPO_ROOT / "lambda" / "trigger"
# EventBridge accepts event patterns up to 2,048 characters; keep room for the rest.
MAX_KEY_FILTER_CHARS = 1500
# Each invocation holds one InvokeRestApi call at a time, which takes about half a second or
# more, so this many concurrent invocations stay under the throttle's requests per second.
INVOCATIONS_PER_TPS = 0.5


def source_prefixes(cfg: EnvironmentConfig, env_name: str, jobs: Mapping[str, JobConfig]) -> dict:
    """Physical bucket name -> the key prefixes S3-triggered jobs listen on ('' = any key)."""
    found: dict[str, set[str]] = {}
    for job in jobs.values():
        if job.trigger.s3 is not None:
            bucket = naming.data_bucket_name(cfg, env_name, job.trigger.s3.bucket)
            found.setdefault(bucket, set()).add(job.trigger.s3.prefix or "")
    return {bucket: sorted(prefixes) for bucket, prefixes in sorted(found.items())}


def key_filter(prefixes: list[str]) -> list[dict[str, str]] | None:
    """The fewest prefix matchers that cover `prefixes`; None (any key) when one is empty or
    the list would not fit in an event pattern even after cutting to top-level folders."""
    if "" in prefixes:
        return None
    covering: list[str] = []
    for prefix in sorted(prefixes):
        if not any(prefix.startswith(kept) for kept in covering):
            covering.append(prefix)
    if len(json.dumps(covering)) > MAX_KEY_FILTER_CHARS:
        covering = sorted({p.split("/", 1)[0] + ("/" if "/" in p else "") for p in covering})
    if len(json.dumps(covering)) > MAX_KEY_FILTER_CHARS:
        return None
    return [{"prefix": p} for p in covering]


def bundle(manifest_file: Path, out_dir: Path, source_dir: Path = TRIGGER_SOURCE) -> Path:
    """The Lambda's code: its modules and the manifest it routes with."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for module in sorted(source_dir.glob("*.py")):
        shutil.copy2(module, out_dir / module.name)
    shutil.copy2(manifest_file, out_dir / "manifest.json")
    return out_dir


class TriggerStack(Stack):
    """The trigger Lambda and one `Object Created` rule per source bucket."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        env_name: str,
        environment: EnvironmentConfig,
        jobs: Mapping[str, JobConfig],
        manifest_file: Path,
        bundle_dir: Path,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        clients_security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        alert_topic: sns.ITopic,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        cfg = environment
        mwaa_name = naming.mwaa_environment_name(cfg.name_prefix, env_name)
        settings = cfg.trigger
        self.trigger = DagTriggerFunction(
            self,
            "Trigger",
            code_dir=bundle(manifest_file, bundle_dir),
            mwaa_environment_name=mwaa_name,
            mwaa_user_role_arn=(
                f"arn:{self.partition}:airflow:{self.region}:{self.account}:role/{mwaa_name}/User"
            ),
            vpc=vpc,
            subnets=subnets,
            security_groups=[clients_security_group],
            # The event source mapping's least is 2 ("ScalingConfig", AWS Lambda API Reference).
            max_concurrency=max(2, int(settings.invoke_rest_api_tps * INVOCATIONS_PER_TPS)),
            timeout=Duration.seconds(settings.timeout_seconds),
            retry_window=Duration.hours(settings.retry_hours),
            oldest_message_alarm=Duration.minutes(settings.oldest_message_alarm_minutes),
            key=key,
            log_retention=log_retention,
            removal_policy=removal_policy,
            environment={"GLUEFLOW_ENVIRONMENT": env_name, "LOG_LEVEL": "INFO"},
        )
        # EventBridge delivers to this queue what it could not deliver to the intake queue;
        # SSE-SQS, so that it holds them even if the platform key is the reason.
        self.rule_dead_letters = encrypted_queue(self, "RuleDeadLetters", None)
        rule_alarm = queue_depth_alarm(self, "RuleDeadLettersDepth", self.rule_dead_letters)
        self.alarms = [*self.trigger.alarms, rule_alarm]
        for alarm in self.alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(alert_topic))
        for queue in (self.trigger.dead_letter_queue, self.rule_dead_letters):
            why = (
                "this queue is itself a dead-letter queue (of the trigger Lambda or its "
                "EventBridge rules); an alarm watches its depth"
            )
            acknowledge(queue, {"AwsSolutions-SQS3": why, "Serverless-SQSRedrivePolicy": why})
        # Where `make redrive` (glueflow_ops/redrive.py) finds the queues.
        for output, queue in (
            ("IntakeQueueUrl", self.trigger.intake),
            ("DeadLetterQueueUrl", self.trigger.dead_letter_queue),
            ("RuleDeadLetterQueueUrl", self.rule_dead_letters),
        ):
            CfnOutput(self, output, value=queue.queue_url)
        self.rules: dict[str, events.Rule] = {}
        by_bucket = source_prefixes(cfg, env_name, jobs)
        # An external bucket's events come from its own account, forwarded by its rule
        # (stacks/source_stack.py): the rule here matches that account too.
        external = {source.name: source.account for source in cfg.external_buckets.values()}
        for bucket, prefixes in by_bucket.items():
            detail: dict[str, Any] = {"bucket": {"name": [bucket]}}
            keys = key_filter(prefixes)
            if keys is not None:
                detail["object"] = {"key": keys}
            rule_id = naming.object_created_rule_id(bucket)
            rule = events.Rule(
                self,
                rule_id,  # named by bucket: adding a bucket never replaces another's rule
                description=f"Objects created in {bucket} under the prefixes its jobs use",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail=detail,
                    account=[external[bucket]] if bucket in external else None,
                ),
            )
            # The event itself is the message; EventBridge retries a failed send (SQS away,
            # the key refused) up to its maximum, then keeps the event in its own DLQ.
            rule.add_target(
                targets.SqsQueue(
                    self.trigger.intake,
                    dead_letter_queue=self.rule_dead_letters,
                    retry_attempts=185,  # EventBridge's maximum, within max_event_age
                    max_event_age=Duration.hours(24),
                )
            )
            self.rules[bucket] = rule
            # What `make replay` filters on.
            CfnOutput(self, naming.object_created_rule_output(bucket), value=rule.rule_arn)
        self.bus_policies = self._accept_forwarded(cfg, env_name, jobs)
        # Tables of other deployments that start jobs here, and this environment's tables that
        # other accounts depend on (docs/architecture.md, decision 20).
        self.table_rules, self.table_bus_policies = self._accept_tables(cfg, env_name, jobs)
        self.table_forwards = self._forward_tables(cfg, env_name, alert_topic)
        # Every source bucket's Object Created events, kept for `make replay`. S3 sends them to
        # the default bus, and a replay goes back to the archive's own bus ("Archiving and
        # replaying events", Amazon EventBridge User Guide).
        default_bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
        buckets = sorted(by_bucket)
        if buckets:
            self.archive = events.Archive(
                self,
                "ObjectCreatedArchive",
                source_event_bus=default_bus,
                event_pattern=events.EventPattern(
                    source=["aws.s3"], detail_type=["Object Created"],
                    detail={"bucket": {"name": buckets}},
                ),
                retention=Duration.days(settings.archive_days),
                description=f"Object Created events of {env_name}'s source buckets",
            )  # fmt: skip
            CfnOutput(self, "ArchiveArn", value=self.archive.archive_arn)
            CfnOutput(self, "EventBusArn", value=default_bus.event_bus_arn)

    def _accept_forwarded(
        self, cfg: EnvironmentConfig, env_name: str, jobs: Mapping[str, JobConfig]
    ) -> dict[str, CfnResource]:
        """One statement on the default bus per external bucket that starts jobs: its account
        may put events here only as its forwarding role (aws:PrincipalArn), and only S3's
        Object Created events ("Example policy: Send events to a custom bus in a different
        account", and "Using IAM policy conditions in Amazon EventBridge", EventBridge User
        Guide). The role is named, not the account: docs/architecture.md, decision 19."""
        used = {job.trigger.s3.bucket for job in jobs.values() if job.trigger.s3}
        policies = {}
        for key, source in sorted(cfg.external_buckets.items()):
            if key not in used:
                continue
            role = naming.role_arn(
                self.partition,
                source.account,
                naming.source_forward_role_name(cfg.name_prefix, env_name, key),
            )
            policies[key] = self._accept_from(
                f"AcceptForwarded{naming.object_created_rule_id(source.name)}",
                naming.bus_statement_id(cfg.name_prefix, env_name, key),
                source.account,
                role,
                "aws.s3",
                "Object Created",
            )
        return policies

    def _accept_from(
        self, construct_id: str, sid: str, account: str, role_arn: str, source: str,
        detail_type: str,
    ) -> CfnResource:  # fmt: skip
        """One statement of the default bus's policy: `account` may put `source`'s
        `detail_type` events here, and only as `role_arn`. The L1 resource as CloudFormation
        defines it: CfnEventBusPolicy's generated class reads its deprecated `principal` while
        rendering, which prints a deprecation warning on every synth though it is unset."""
        return CfnResource(
            self,
            construct_id,
            type="AWS::Events::EventBusPolicy",
            properties={
                "EventBusName": "default",
                "StatementId": sid,
                "Statement": {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{self.partition}:iam::{account}:root"},
                    "Action": "events:PutEvents",
                    "Resource": naming.default_bus_arn(self.partition, self.region, self.account),
                    "Condition": {
                        "StringEquals": {
                            "aws:PrincipalArn": role_arn,
                            "events:detail-type": detail_type,
                        },
                        "ForAllValues:StringEquals": {"events:source": [source]},
                    },
                },
            },
        )

    # --- Table Published events (docs/architecture.md, decision 20) -----------------------------

    def _table_pattern(self, account: str, prefix: str, env: str, tables: list[str]) -> Any:
        """Glueflow's Table Published events of one deployment's tables. A cross-account event
        keeps its sender's `account` ("Sending and receiving events between AWS accounts in
        Amazon EventBridge", EventBridge User Guide), which the pattern matches."""
        return events.EventPattern(
            source=[naming.TABLE_EVENT_SOURCE],
            detail_type=[naming.TABLE_PUBLISHED],
            account=[account],
            detail={"environment": [env], "name_prefix": [prefix], "table": tables},
        )

    def _accept_tables(
        self, cfg: EnvironmentConfig, env_name: str, jobs: Mapping[str, JobConfig]
    ) -> tuple[dict[str, events.Rule], dict[tuple[str, str, str], CfnResource]]:
        """Per external table that starts jobs, a rule taking its Table Published events to the
        intake queue, as the S3 rules do (same retries, same dead-letter queue); per producer
        deployment in another account, a statement on the default bus: its account may put
        events here only as its forwarding role (aws:PrincipalArn), and only Glueflow's Table
        Published events ("Example policy: Send events to a custom bus in a different account",
        and "Using IAM policy conditions in Amazon EventBridge", EventBridge User Guide). A
        producer in this account puts its events on this bus itself: no statement."""
        rules = {}
        for key, sub in table_events.subscriptions(cfg, jobs).items():
            table = sub.table
            rule = events.Rule(
                self,
                naming.table_rule_id(key),  # named by key: adding a table never replaces another
                description=f"{table.name_prefix}-{table.environment} ({table.account}) published "
                f"{table.table}: starts {', '.join(sub.jobs)}"[:512],
                event_pattern=self._table_pattern(
                    table.account, table.name_prefix, table.environment, [table.table]
                ),
            )
            rule.add_target(
                targets.SqsQueue(
                    self.trigger.intake,
                    dead_letter_queue=self.rule_dead_letters,
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            )
            rules[key] = rule
        policies = {}
        for ident, producer in table_events.producers(cfg, env_name, jobs).items():
            if producer.same_account:
                continue
            policies[ident] = self._accept_from(
                f"AcceptTables{producer.account}{naming.table_rule_id(producer.environment)}"
                f"{naming.table_rule_id(producer.name_prefix)}",
                producer.statement_id,
                producer.account,
                producer.forward_role_arn,
                naming.TABLE_EVENT_SOURCE,
                naming.TABLE_PUBLISHED,
            )
        return rules, policies

    def _forward_tables(
        self, cfg: EnvironmentConfig, env_name: str, alert_topic: sns.ITopic
    ) -> dict[str, events.Rule]:
        """Per consumer account, a rule forwarding this environment's Table Published events of
        the tables it lists to that account's default bus, as a role allowed only
        events:PutEvents on that bus ("Sending and receiving events between AWS accounts in
        Amazon EventBridge", EventBridge User Guide: the target is the other account's bus, and
        the rule needs a role to send there). Both are named (configs/naming.py), because the
        consumer's bus policy names the role. What the consumer's bus refuses for 24 h goes to
        a dead-letter queue here (SSE-SQS, as the rules' own), watched by an alarm."""
        forwards = table_events.forwards(cfg, env_name)
        if not forwards:
            return {}
        self.table_forward_dead_letters: sqs.Queue = encrypted_queue(
            self, "TableForwardDeadLetters", None
        )
        why = (
            "this queue is itself a dead-letter queue (of the Table Published forwarding "
            "rules); an alarm watches its depth"
        )
        acknowledge(
            self.table_forward_dead_letters,
            {"AwsSolutions-SQS3": why, "Serverless-SQSRedrivePolicy": why},
        )
        alarm = queue_depth_alarm(
            self,
            "TableForwardDeadLettersDepth",
            self.table_forward_dead_letters,
            description="A Table Published event could not be forwarded to a consumer account",
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(alert_topic))
        self.alarms.append(alarm)
        CfnOutput(
            self,
            "TableForwardDeadLetterQueueUrl",
            value=self.table_forward_dead_letters.queue_url,
        )
        rules = {}
        for forward in forwards:
            construct_id = naming.table_forward_id(forward.account)
            # EventBridge may assume it for this rule only ("Cross-service confused deputy
            # prevention in Amazon EventBridge": for a rule's target, aws:SourceArn is the
            # rule's ARN), as the source side's forwarding role (stacks/source_side.py).
            rule_arn = (
                f"arn:{self.partition}:events:{self.region}:{self.account}:rule/{forward.rule_name}"
            )
            role = ManagedPolicyRole(
                self,
                f"{construct_id}Role",
                assumed_by=iam.ServicePrincipal(
                    "events.amazonaws.com",
                    conditions={
                        "StringEquals": {"aws:SourceAccount": self.account},
                        "ArnEquals": {"aws:SourceArn": rule_arn},
                    },
                ),
                role_name=forward.role_name,
                description=f"Forwards {env_name}'s Table Published events to {forward.account}",
                statements=[allow(["events:PutEvents"], [forward.bus_arn])],
            )
            rule = events.Rule(
                self,
                construct_id,
                rule_name=forward.rule_name,
                description=f"{env_name}'s Table Published events of "
                f"{', '.join(forward.tables)} to account {forward.account}"[:512],
                event_pattern=self._table_pattern(
                    self.account, cfg.name_prefix, env_name, list(forward.tables)
                ),
            )
            rule.add_target(
                targets.EventBus(
                    events.EventBus.from_event_bus_arn(self, f"{construct_id}Bus", forward.bus_arn),
                    role=role.role_for_grants,
                    dead_letter_queue=self.table_forward_dead_letters,
                )
            )
            rules[forward.account] = rule
        return rules
