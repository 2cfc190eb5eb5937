"""One dashboard per environment, and alarms that notify the alert topic."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Capture, Match

from glueflow_runtime.cost import METRIC_NAMESPACE, RunCost, metric_data
from tests.synth import Synthesized

TOP = 10


def logical(stack: Stack, construct: Any) -> str:
    """`<stack name>/<logical id>` of a construct's CloudFormation resource."""
    resource = getattr(construct, "node", construct).default_child or construct
    return f"{stack.stack_name}/{stack.get_logical_id(resource)}"


def resolve(synth: Synthesized, stack_name: str, value: Any) -> str:
    """A reference in `stack_name`'s template as `<stack name>/<logical id>[.<attribute>]`,
    following cross-stack outputs to the resource that produces them."""
    if isinstance(value, str):
        return value
    (kind, arg), *_ = value.items()
    if kind == "Ref":
        return arg if arg.startswith("AWS::") else f"{stack_name}/{arg}"
    if kind == "Fn::GetAtt":
        return f"{stack_name}/{arg[0]}.{arg[1]}"
    if kind == "Fn::GetStackOutput":
        producer = synth.templates[arg["StackName"]]
        return resolve(synth, arg["StackName"], producer["Outputs"][arg["OutputName"]]["Value"])
    raise AssertionError(f"unexpected intrinsic in {stack_name}: {value}")


def dashboard(synth: Synthesized) -> dict[str, Any]:
    """The monitoring stack's dashboard, its body parsed, references as `<stack/logical id>`."""
    stack = synth.stage.monitoring
    (resource,) = synth.template(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    body = resource["Properties"]["DashboardBody"]
    if isinstance(body, dict):
        separator, parts = body["Fn::Join"]
        body = separator.join(
            part if isinstance(part, str) else f"<{resolve(synth, stack.stack_name, part)}>"
            for part in parts
        )
    return {"name": resource["Properties"]["DashboardName"], **json.loads(body)}


def widgets(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """The dashboard's widgets by title (the text widget as 'text')."""
    found = {}
    for widget in dashboard(synth)["widgets"]:
        title = widget["properties"].get("title", widget["type"])
        assert title not in found, f"two widgets titled {title!r}"
        found[title] = widget
    return found


def plain_metrics(widget: dict[str, Any]) -> list[tuple]:
    """(namespace, name, {dimension: value}, stat) of each metric a widget lists directly
    (a dashboard's default statistic, Average, is left out of the body)."""
    found = []
    for row in widget["properties"]["metrics"]:
        *names, options = row if isinstance(row[-1], dict) else (*row, {})
        if "expression" in options:
            continue
        namespace, name, *dims = names
        found.append(
            (
                namespace,
                name,
                dict(zip(dims[::2], dims[1::2], strict=True)),
                options.get("stat", "Average"),
            )
        )
    return found


def expressions(widget: dict[str, Any]) -> list[str]:
    return [
        row[-1]["expression"]
        for row in widget["properties"]["metrics"]
        if isinstance(row[-1], dict) and "expression" in row[-1]
    ]


def all_alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """Every alarm of the environment, by `<stack name>/<logical id>`."""
    return {
        f"{stack}/{logical_id}": resource
        for stack, template in synth.templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


# --- the dashboard -----------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_one_dashboard_per_environment(env: str, request: pytest.FixtureRequest) -> None:
    synth: Synthesized = request.getfixturevalue(env)
    dashboards = [
        name
        for name, template in synth.templates.items()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert dashboards == [f"glueflow-{env}-monitoring"]
    board = dashboard(synth)
    assert board["name"] == f"glueflow-{env}"
    assert board["start"] == "-P7D"
    assert board["periodOverride"] == "inherit"  # a day stays a day on the cost widgets


def test_per_job_widgets_rank_every_job_with_one_query(dev: Synthesized) -> None:
    """Metrics Insights queries: the same text at any number of jobs, and they sort every job
    (up to 10,000) before keeping the top ones, where a SEARCH stops at 500 series."""
    found = widgets(dev)
    schema = "FROM SCHEMA(Glueflow, Environment, Job) WHERE Environment = 'dev' GROUP BY Job"
    expected = {
        f"Cost per job: top {TOP} spenders (USD)": (
            f"SELECT SUM(CostUSD) {schema} ORDER BY SUM() DESC LIMIT 10",
            86400,
        ),
        f"DPU-hours per day: top {TOP} jobs": (
            f"SELECT SUM(DPUHours) {schema} ORDER BY SUM() DESC LIMIT 10",
            86400,
        ),
        f"Run duration: top {TOP} jobs by longest run (seconds)": (
            f"SELECT MAX(DurationSeconds) {schema} ORDER BY MAX() DESC LIMIT 10",
            3600,
        ),
        f"Failed runs: top {TOP} jobs": (
            f"SELECT SUM(FailedRuns) {schema} ORDER BY SUM() DESC LIMIT 10",
            3600,
        ),
    }
    for title, (query, period) in expected.items():
        assert expressions(found[title]) == [query], title
        assert found[title]["properties"]["period"] == period, title
    cost = found[f"Cost per job: top {TOP} spenders (USD)"]["properties"]
    assert cost["view"] == "table"
    assert cost["table"]["summaryColumns"] == ["SUM"]  # one total per job over the time range
    assert cost["table"]["showTimeSeriesData"] is False


def test_totals_and_failures_read_environment_metrics_and_the_failure_rule(
    dev: Synthesized,
) -> None:
    found = widgets(dev)
    rule = logical(dev.stage.storage, dev.stage.storage.glue_failures)
    every_bad_run = ("AWS/Events", "MatchedEvents", {"RuleName": f"<{rule}>"}, "Sum")
    totals = found["Totals over the time range"]
    assert totals["properties"]["view"] == "singleValue"
    assert totals["properties"]["setPeriodToTimeRange"] is True
    assert plain_metrics(totals) == [
        ("Glueflow", "CostUSD", {"Environment": "dev"}, "Sum"),
        ("Glueflow", "DPUHours", {"Environment": "dev"}, "Sum"),
        ("Glueflow", "FailedRuns", {"Environment": "dev"}, "Sum"),
        every_bad_run,
    ]
    assert plain_metrics(found["Failed Glue runs per hour"]) == [
        ("Glueflow", "FailedRuns", {"Environment": "dev"}, "Sum"),
        every_bad_run,
    ]


def test_trigger_lambda_and_dead_letter_queues(dev: Synthesized) -> None:
    found = widgets(dev)
    triggers, storage = dev.stage.triggers, dev.stage.storage
    monitoring = dev.stage.monitoring
    function = f"<{logical(triggers, triggers.trigger.function)}>"
    intake = {"QueueName": f"<{logical(triggers, triggers.trigger.intake)}.QueueName>"}
    assert plain_metrics(found["Trigger Lambda"]) == [
        *[("AWS/Lambda", name, {"FunctionName": function}, "Sum")
          for name in ("Invocations", "Errors", "Throttles")],
        # How long landed files wait for their runs, on the right axis.
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", intake, "Maximum"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", intake, "Maximum"),
    ]  # fmt: skip
    assert expressions(found["Trigger Lambda: its own counters"]) == [
        "SEARCH('{Glueflow/Trigger,Environment} Environment=\"dev\"', 'Sum', 300)"
    ]
    queues = {
        metric[2]["QueueName"]
        for metric in plain_metrics(found["Dead-letter queues: messages waiting"])
        if metric[1] == "ApproximateNumberOfMessagesVisible"
    }
    assert queues == {
        f"<{logical(triggers, triggers.trigger.dead_letter_queue)}.QueueName>",
        f"<{logical(triggers, triggers.rule_dead_letters)}.QueueName>",
        f"<{logical(storage, storage.glue_failures_dead_letters)}.QueueName>",
        f"<{logical(monitoring, monitoring.notifier.dead_letter_queue)}.QueueName>",
        f"<{logical(monitoring, monitoring.notifier.subscription_dead_letters)}.QueueName>",
    }


def test_mwaa_scheduler_heartbeat_and_tasks(dev: Synthesized) -> None:
    found = widgets(dev)
    env = {"Environment": "glueflow-dev"}
    assert plain_metrics(found["MWAA scheduler heartbeats"]) == [
        ("AmazonMWAA", "SchedulerHeartbeat", {**env, "Function": "Scheduler"}, "Sum")
    ]
    assert plain_metrics(found["MWAA tasks: queued and running"]) == [
        ("AmazonMWAA", "QueuedTasks", {**env, "Function": "Executor"}, "Average"),
        ("AmazonMWAA", "RunningTasks", {**env, "Function": "Executor"}, "Average"),
    ]


def test_alarm_status_shows_every_alarm_of_the_environment(dev: Synthesized) -> None:
    shown = widgets(dev)["Alarms (each notifies the alert topic)"]["properties"]["alarms"]
    assert sorted(shown) == sorted(f"<{alarm}.Arn>" for alarm in all_alarms(dev))
    assert len(shown) == 11  # 3 here, the notifier's 3, the storage stack's 1, the triggers' 4


def test_dashboard_reads_only_what_the_cost_monitor_publishes(dev: Synthesized) -> None:
    """Every `Glueflow` metric on the dashboard, with its dimension names, is one that
    dags/glueflow_runtime/cost.py puts after a run."""
    run = RunCost("sales_ingest", "jr_1", "FAILED", 1.0, 0.44, 60)
    published = {
        (datum["MetricName"], frozenset(d["Name"] for d in datum["Dimensions"]))
        for datum in metric_data(run, "dev")
    }
    used = set()
    for widget in widgets(dev).values():
        if widget["type"] != "metric":
            continue
        for namespace, name, dims, _ in plain_metrics(widget):
            if namespace == METRIC_NAMESPACE:
                used.add((name, frozenset(dims)))
        for expression in expressions(widget):
            query = re.fullmatch(
                r"SELECT \w+\((\w+)\) FROM SCHEMA\((\w+), ([\w, ]+)\) .*", expression
            )
            if query:
                assert query[2] == METRIC_NAMESPACE
                used.add((query[1], frozenset(query[3].split(", "))))
    assert len(used) == 7  # 4 per job, 3 per environment
    assert used <= published, used - published


# --- the alarms --------------------------------------------------------------------------------


def test_every_alarm_of_the_monitoring_stack_notifies_the_alert_topic(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synth in (dev, prod):
        storage, monitoring = synth.stage.storage, synth.stage.monitoring
        topic = logical(storage, storage.alert_topic)
        alarms = synth.template(monitoring).find_resources("AWS::CloudWatch::Alarm")
        # dev: 3 of the environment's and the notifier's 3; prod adds the daily cost alarm
        assert len(alarms) == (6 if synth is dev else 7)
        fallback = monitoring.fallback_topic
        for logical_id, alarm in alarms.items():
            actions = alarm["Properties"]["AlarmActions"]
            resolved = [resolve(synth, monitoring.stack_name, a) for a in actions]
            if fallback is not None and logical_id.startswith("Notifier"):
                # prod lists fallback emails: the notifier's own alarms also go by email
                assert resolved == [topic, logical(monitoring, fallback)], logical_id
            else:
                assert resolved == [topic], logical_id


def test_mwaa_alarms(dev: Synthesized, prod: Synthesized) -> None:
    dev.template(dev.stage.monitoring).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "glueflow-dev-mwaa-scheduler-heartbeat",
            "Namespace": "AmazonMWAA",
            "MetricName": "SchedulerHeartbeat",
            "Dimensions": [
                {"Name": "Environment", "Value": "glueflow-dev"},
                {"Name": "Function", "Value": "Scheduler"},
            ],
            "Statistic": "Sum",
            "Period": 300,
            "ComparisonOperator": "LessThanThreshold",
            "Threshold": 1,
            "EvaluationPeriods": 3,  # scheduler_heartbeat_missing_minutes: 15
            "DatapointsToAlarm": 3,
            "TreatMissingData": "breaching",  # no metric at all is no scheduler at all
        },
    )
    queued = {
        "Namespace": "AmazonMWAA",
        "MetricName": "QueuedTasks",
        "Dimensions": Match.array_with([{"Name": "Function", "Value": "Executor"}]),
        "Statistic": "Average",
        "Period": 300,
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 6,  # queued_tasks_minutes: 30
        "DatapointsToAlarm": 6,
        "TreatMissingData": "notBreaching",
    }
    dev.template(dev.stage.monitoring).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {**queued, "AlarmName": "glueflow-dev-mwaa-queued-tasks", "Threshold": 10},
    )
    prod.template(prod.stage.monitoring).has_resource_properties(  # prod.yaml sets 20
        "AWS::CloudWatch::Alarm",
        {**queued, "AlarmName": "glueflow-prod-mwaa-queued-tasks", "Threshold": 20},
    )


def test_glue_failure_alarm_counts_what_the_failure_rule_matches(dev: Synthesized) -> None:
    rule_name = Capture()
    dev.template(dev.stage.monitoring).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "glueflow-dev-glue-failed-runs",
            "Namespace": "AWS/Events",
            "MetricName": "MatchedEvents",
            "Dimensions": [{"Name": "RuleName", "Value": rule_name}],
            "Statistic": "Sum",
            "Period": 3600,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 3,
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
        },
    )
    assert resolve(dev, dev.stage.monitoring.stack_name, rule_name.as_object()) == logical(
        dev.stage.storage, dev.stage.storage.glue_failures
    )


def test_daily_cost_alarm_only_where_configured(dev: Synthesized, prod: Synthesized) -> None:
    names = [
        a["Properties"]["AlarmName"]
        for a in dev.template(dev.stage.monitoring)
        .find_resources("AWS::CloudWatch::Alarm")
        .values()
    ]
    assert not any("cost" in name for name in names)
    prod.template(prod.stage.monitoring).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "glueflow-prod-glue-daily-cost",
            "Namespace": "Glueflow",
            "MetricName": "CostUSD",
            "Dimensions": [{"Name": "Environment", "Value": "prod"}],  # not per job
            "Statistic": "Sum",
            "Period": 86400,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 150,  # prod.yaml: monitoring.daily_cost_alarm_usd
            "EvaluationPeriods": 1,
        },
    )


def test_monitoring_is_deployed_last(dev: Synthesized) -> None:
    stage = dev.stage
    assert stage.triggers in stage.monitoring.dependencies
    others = [s for s in dev.stacks.values() if s is not stage.monitoring]
    assert all(stage.monitoring not in s.dependencies for s in others)
