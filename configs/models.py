"""The config models: one source of truth for validation, the JSON schema and the manifest.

Every model forbids unknown keys and is strict about types, so a typo or a quoted number fails
validation instead of silently becoming a default.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from configs import glue_limits
from glueflow_steps import registry
from glueflow_steps.base import JobName, matching

AWS_REGION_RE = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$"

# --- names -------------------------------------------------------------------------------------
# A job's and a step's names (JobName, StepName) are the step registry's: glueflow_steps/base.py.

ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9]{1,11}$")
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{1,15}$")
BUCKET_KEY_RE = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
S3_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BucketKey = Annotated[
    str,
    matching(
        BUCKET_KEY_RE,
        "bucket key",
        "2-20 lowercase letters, digits and '-', starting with a letter",
    ),
]


def _s3_prefix(value: str) -> str:
    if value.startswith("/") or value.startswith("s3://"):
        raise ValueError(
            f"{value!r} is not a valid S3 key prefix: give the key prefix only, "
            "without 's3://', the bucket or a leading '/' (e.g. 'sales/raw/')"
        )
    if "*" in value or "?" in value:
        raise ValueError(f"{value!r} is not a valid S3 key prefix: wildcards are not accepted")
    return value


S3Prefix = Annotated[str, AfterValidator(_s3_prefix)]


def _s3_bucket(value: str | None) -> str | None:
    """A bucket name S3 accepts ("General purpose bucket naming rules", Amazon S3 User Guide)."""
    if value is not None and not S3_BUCKET_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid S3 bucket name: 3-63 lowercase letters, digits, "
            "'.' and '-', starting and ending with a letter or digit"
        )
    return value


def _cron(value: str) -> str:
    fields = value.split()
    if value.startswith("@"):
        presets = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly")
        if value not in presets:
            raise ValueError(f"{value!r} is not a cron preset; accepted: {', '.join(presets)}")
        return value
    if len(fields) != 5 or not croniter.is_valid(value):
        raise ValueError(
            f"{value!r} is not a valid cron expression: use five fields "
            "'minute hour day-of-month month day-of-week' (e.g. '0 6 * * *') or a preset "
            "such as '@daily'"
        )
    return value


Cron = Annotated[str, AfterValidator(_cron)]


def _number_as_version(value: Any) -> Any:
    # YAML reads `version: 5.1` as a float; accept it as the string "5.1".
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{float(value):.1f}"
    return value


GlueVersion = Annotated[
    Literal[glue_limits.GLUE_VERSIONS],  # type: ignore[valid-type]
    BeforeValidator(_number_as_version),
]

Tags = dict[
    Annotated[str, Field(min_length=1, max_length=128)],
    Annotated[str, Field(max_length=256)],
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- jobs ----------------------------------------------------------------------------------------


class S3Location(_Model):
    """An S3 location in one of the environment's declared buckets."""

    bucket: BucketKey = Field(description="Key of a bucket the environment declares, e.g. 'raw'.")
    prefix: S3Prefix = Field(description="Key prefix within the bucket, e.g. 'sales/incoming/'.")


# The formats an input can declare, and the file name endings each is known by (an S3
# trigger's suffix must not name another format's). Compressed files keep their format.
INPUT_FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".tsv", ".txt"),
    "json": (".json", ".jsonl", ".ndjson"),
    "parquet": (".parquet",),
}
COMPRESSED_ENDINGS = (".gz", ".bz2", ".zst", ".snappy", ".deflate", ".lz4")
CSV_ONLY_OPTIONS = ("header", "delimiter", "quote")


class InputFormat(_Model):
    """How to read an input's files. The shared entry point reads with these options
    (glueflow_glue.job.read_input), so a script gets a DataFrame and does not repeat them."""

    type: Literal["csv", "json", "parquet"] = Field(
        description="csv (with the options below), json (JSON lines) or parquet."
    )
    header: bool | None = Field(
        default=None, description="csv: the first line names the columns (default true)."
    )
    delimiter: str | None = Field(
        default=None, min_length=1, max_length=1, description="csv: the field separator (',')."
    )
    quote: str | None = Field(
        default=None, min_length=1, max_length=1, description="csv: the quote character ('\"')."
    )
    encoding: str | None = Field(
        default=None, min_length=1, description="csv and json: the charset (default UTF-8)."
    )
    null_values: list[str] = Field(
        default_factory=list,
        description="Strings that mean a missing value, e.g. ['NA', 'NULL']: read as null in "
        "every text column. An empty CSV field is null already.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `format: csv` is `format: {type: csv}`.
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _options_fit(self) -> InputFormat:
        misplaced = [o for o in CSV_ONLY_OPTIONS if getattr(self, o) is not None]
        if self.type != "csv" and misplaced:
            raise ValueError(f"{', '.join(misplaced)}: only for type csv, not {self.type}")
        if self.type == "parquet" and (self.encoding is not None or self.null_values):
            raise ValueError(
                "parquet files carry their own encoding and nulls: remove encoding and null_values"
            )
        return self

    def reader_options(self) -> dict[str, Any]:
        """What the entry point passes to Spark's reader: the declared options, defaulted."""
        if self.type == "parquet":
            return {}
        options: dict[str, Any] = {"encoding": self.encoding or "UTF-8"}
        if self.type == "csv":
            options.update(
                header=True if self.header is None else self.header,
                sep=self.delimiter or ",",
                quote=self.quote or '"',
            )
        return options


class InputLocation(S3Location):
    """An input: an S3 location the job reads, and (optionally) how its files are read."""

    format: InputFormat | None = Field(
        default=None,
        description="How its files are read: csv, json or parquet, with reader options. "
        "Without it the script reads the files itself.",
    )


# A column type the Glue Data Catalog, Athena and Spark all read from a Parquet table (Hive
# DDL types: "Data types in Amazon Athena", Athena User Guide).
COLUMN_TYPE_RE = re.compile(
    r"(string|boolean|tinyint|smallint|int|bigint|float|double|date|timestamp|binary"
    r"|decimal\(\d{1,2},\d{1,2}\)|array<(string|int|bigint|double)>)"
)
# A catalog name: lowercase, as Athena and the Glue Data Catalog store them.
TABLE_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,99}")
COLUMN_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,127}")
# The partition column a table replaced by source object gets: one value per source object.
SOURCE_PARTITION = "source_id"

ColumnType = Annotated[
    str,
    matching(
        COLUMN_TYPE_RE,
        "column type",
        "string, boolean, tinyint, smallint, int, bigint, float, double, date, timestamp, "
        "binary, decimal(p,s) or array<string|int|bigint|double>",
    ),
]
ColumnName = Annotated[
    str,
    matching(
        COLUMN_NAME_RE, "column name", "lowercase letters, digits and '_', starting with a letter"
    ),
]


class TableOutput(S3Location):
    """An output: a table in the environment's Glue Data Catalog database, at bucket/prefix.

    A run writes under `<prefix>runs/<Glue run id>/`, where no reader looks; after the gate
    passes, publishing points the table's partitions there (docs/architecture.md, decision
    15)."""

    table: Annotated[
        str,
        matching(
            TABLE_NAME_RE, "table name", "lowercase letters, digits and '_', starting with a letter"
        ),
    ] = Field(description="The table's name in the environment's catalog database.")
    columns: dict[ColumnName, ColumnType] = Field(
        min_length=1,
        description="The table's columns and their types, partition columns included; a "
        "change shows in `make review`.",
    )
    partitioned_by: list[ColumnName] = Field(
        default_factory=list, description="Partition columns, in order; each is in columns."
    )
    replace: Literal["source_object", "partitions"] = Field(
        description="What a run replaces when it publishes. source_object: every row the "
        "run's source object (bucket and key) contributed before, so a retry, a redelivery "
        "or a new version of the key replaces, never adds (for jobs started by files). "
        "partitions: each partition the run wrote, wholly."
    )

    @model_validator(mode="after")
    def _partitions_are_columns(self) -> TableOutput:
        missing = [c for c in self.partitioned_by if c not in self.columns]
        if missing:
            raise ValueError(
                f"partitioned_by {missing!r} are not in columns; accepted: "
                f"{', '.join(self.columns)}"
            )
        if len(set(self.partitioned_by)) != len(self.partitioned_by):
            raise ValueError(f"partitioned_by {self.partitioned_by!r} repeats a column")
        if SOURCE_PARTITION in self.columns:
            raise ValueError(
                f"{SOURCE_PARTITION!r} is Glueflow's own partition column of a table "
                "replaced by source object; name the column differently"
            )
        if self.replace == "partitions" and not self.partitioned_by:
            raise ValueError(
                "replace: partitions needs partitioned_by (a run replaces the partitions it "
                "wrote); for a table rewritten whole, partition it by a run date"
            )
        return self


class S3EventTrigger(_Model):
    """Start the job when an object lands in a declared bucket under a prefix and/or suffix."""

    bucket: BucketKey = Field(description="Key of a bucket the environment declares.")
    prefix: S3Prefix | None = Field(default=None, description="Object key prefix to match.")
    suffix: str | None = Field(default=None, min_length=1, description="Key suffix, e.g. '.csv'.")

    @model_validator(mode="after")
    def _narrowed(self) -> S3EventTrigger:
        if not self.prefix and not self.suffix:
            raise ValueError(
                "an S3 trigger needs a prefix and/or a suffix, so that it does not fire on "
                "every object in the bucket"
            )
        return self


# --- tables of other deployments (docs/architecture.md, decision 20) ---------------------------
# An environment's key for a table another Glueflow deployment publishes (`external_tables`),
# which a job's `trigger.table` names.
TABLE_KEY_RE = re.compile(r"[a-z][a-z0-9_]{1,39}")
TableKey = Annotated[
    str,
    matching(
        TABLE_KEY_RE,
        "external table key",
        "2-40 lowercase letters, digits and '_', starting with a letter",
    ),
]
TableName = Annotated[
    str,
    matching(
        TABLE_NAME_RE, "table name", "lowercase letters, digits and '_', starting with a letter"
    ),
]


class Trigger(_Model):
    """How a run starts: an S3 event, a cron schedule, another deployment's table being
    published, or (none set) manually."""

    s3: S3EventTrigger | None = Field(default=None, description="Event trigger.")
    schedule: Cron | None = Field(default=None, description="Cron expression (UTC).")
    table: TableKey | None = Field(
        default=None,
        description="Key of one of the environment's external_tables: each time that table is "
        "published (a Table Published event), a run starts.",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        if self.s3 is not None and self.schedule is not None:
            raise ValueError(
                "a job has either an S3 event trigger or a schedule, not both; "
                "keep 's3' for event-driven runs or 'schedule' for timed runs"
            )
        if self.table is not None and (self.s3 is not None or self.schedule is not None):
            other = "s3" if self.s3 is not None else "schedule"
            raise ValueError(
                f"a job has one trigger: 'table' or {other!r}, not both; keep 'table' for runs "
                f"started by another deployment's table, or {other!r}"
            )
        return self


class GlueSettings(_Model):
    """How Glue runs the job."""

    version: GlueVersion = Field(  # type: ignore[assignment]
        default=glue_limits.DEFAULT_GLUE_VERSION,
        description="AWS Glue version; it sets the Spark line: 4.0 to 5.1 run Spark 3, 6.0 and "
        "6.1 run Spark 4.1 (ANSI SQL mode on: an invalid cast fails the run, use try_cast).",
    )
    # None only until _default_worker_type fills in the version's default.
    worker_type: str | None = Field(
        default=None,
        description="Glue worker type, e.g. G.1X or (Glue 6.1) G.1X.GRAVITON. Unset: the "
        "version's default as Glue applies it, G.1X.GRAVITON on Glue 6.1 and G.1X before.",
    )
    workers: int = Field(
        default=2,
        ge=glue_limits.MIN_WORKERS,
        le=glue_limits.MAX_WORKERS,
        description="Number of workers.",
    )
    timeout_minutes: int = Field(
        default=60, ge=1, le=glue_limits.MAX_TIMEOUT_MINUTES, description="Run timeout."
    )
    typical_minutes: int | None = Field(
        default=None,
        ge=1,
        le=glue_limits.MAX_TIMEOUT_MINUTES,
        description="How long a run usually takes; `make review` prices a run at it as well as "
        "at timeout_minutes. At most timeout_minutes.",
    )
    max_retries: int = Field(
        default=0,
        ge=0,
        le=glue_limits.MAX_GLUE_RETRIES,
        description="How often a failed run is started again. The DAG's Glue task retries "
        "(each attempt a run it follows, gates and prices); the Glue job itself never does.",
    )
    execution_class: Literal["STANDARD", "FLEX"] = Field(
        default="STANDARD", description="FLEX runs on spare capacity, cheaper, may start later."
    )
    max_concurrent_runs: int = Field(default=1, ge=1, le=1000, description="Parallel runs.")
    job_bookmarks: bool = Field(default=False, description="Glue job bookmarks on or off.")
    arguments: dict[str, str] = Field(
        default_factory=dict,
        description="Extra job arguments; keys start with '--'.",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_worker_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("worker_type") is None:
            version = _number_as_version(data.get("version", glue_limits.DEFAULT_GLUE_VERSION))
            default = glue_limits.DEFAULT_WORKER_TYPE_BY_VERSION.get(version)
            if default is None:  # an unknown version is reported by its own field
                return data
            flex = glue_limits.FLEX_WORKER_TYPES
            if data.get("execution_class") == "FLEX" and default not in flex:
                raise ValueError(
                    f"execution_class 'FLEX' needs a worker_type on Glue {version}: without one "
                    f"the job runs on {default}, where Flex does not run; set worker_type to "
                    f"one of: {', '.join(flex)}"
                )
            data = {**data, "worker_type": default}
        return data

    @model_validator(mode="after")
    def _worker_type_for_version(self) -> GlueSettings:
        allowed = glue_limits.WORKER_TYPES_BY_VERSION[self.version]
        if self.worker_type not in allowed:
            elsewhere = [v for v, types in glue_limits.WORKER_TYPES_BY_VERSION.items()
                         if self.worker_type in types]  # fmt: skip
            hint = f" ({self.worker_type} runs on Glue {', '.join(elsewhere)})" if elsewhere else ""
            raise ValueError(
                f"worker_type {self.worker_type!r} is not allowed on Glue {self.version} "
                f"Spark jobs; accepted: {', '.join(allowed)}{hint}"
            )
        if self.execution_class == "FLEX" and self.worker_type not in glue_limits.FLEX_WORKER_TYPES:
            raise ValueError(
                f"execution_class 'FLEX' does not run on worker_type {self.worker_type!r}; "
                f"Flex accepts: {', '.join(glue_limits.FLEX_WORKER_TYPES)}"
            )
        if self.typical_minutes is not None and self.typical_minutes > self.timeout_minutes:
            raise ValueError(
                f"typical_minutes {self.typical_minutes} is longer than timeout_minutes "
                f"{self.timeout_minutes}; accepted: 1 to timeout_minutes"
            )
        return self

    @field_validator("arguments")
    @classmethod
    def _argument_keys(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [key for key in value if not key.startswith("--")]
        reserved = [key for key in value if key in RESERVED_ARGUMENTS]
        messages = []
        if bad:
            messages.append(f"arguments must start with '--': {', '.join(map(repr, bad))}")
        if reserved:
            messages.append(
                f"{', '.join(map(repr, reserved))} set by Glueflow from the job config; "
                f"reserved: {', '.join(sorted(RESERVED_ARGUMENTS))}"
            )
        if messages:
            raise ValueError("; ".join(messages))
        return value


# Arguments Glueflow derives from other fields; setting them by hand would fight the config.
RESERVED_ARGUMENTS = frozenset(
    {
        "--TempDir",
        "--extra-py-files",
        "--job-bookmark-option",
        "--enable-metrics",
        "--enable-observability-metrics",
        "--enable-continuous-cloudwatch-log",
        "--job-language",
        "--glueflow-job",
        "--glueflow-env",
        "--glueflow-inputs",
        "--glueflow-outputs",
        "--glueflow-trigger",
        "--glueflow-s3-trigger",
        "--glueflow-airflow-run-id",
        "--validation-report-uri",
    }
)


class Validation(_Model):
    """The validation gate: stop and alert when too many records are invalid."""

    max_invalid_ratio: float = Field(
        ge=0.0, le=1.0, description="Largest accepted invalid/read ratio, 0.0 to 1.0."
    )


class AirflowSettings(_Model):
    """How Airflow treats the job's tasks."""

    retries: int = Field(default=1, ge=0, le=10, description="Airflow task retries.")
    retry_delay_minutes: int = Field(default=5, ge=1, le=1440, description="Between retries.")
    alert_on_failure: bool = Field(default=True, description="Send failures to the alerts.")


# A downstream step: one of the step registry's types (glueflow_steps/), told apart by `type`.
DownstreamStep = Annotated[
    Union[tuple(step.model for step in registry().values())],  # noqa: UP007 - built at import
    Field(discriminator="type"),
]


class JobConfig(_Model):
    """One Glue job and how it is orchestrated. One file under configs/jobs/ per job."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        title="Glueflow job",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    name: JobName = Field(description="Unique job name: the DAG id and part of the Glue job name.")
    description: str = Field(min_length=1, max_length=2048, description="What the job does.")
    owner: str = Field(min_length=1, max_length=256, description="Team or e-mail that owns it.")
    tags: Tags = Field(default_factory=dict, description="Tags for the Glue job and its role.")
    script: str = Field(
        min_length=1, description="PySpark script, relative to the repository root."
    )
    glue: GlueSettings = Field(default_factory=GlueSettings, description="How Glue runs it.")
    inputs: list[InputLocation] = Field(
        default_factory=list, description="What it reads; its role may read only these."
    )
    outputs: list[TableOutput] = Field(
        default_factory=list,
        description="The tables it writes; its role may write only under their locations.",
    )
    trigger: Trigger = Field(
        default_factory=Trigger, description="S3 event, schedule, or neither (manual)."
    )
    depends_on: list[JobName] = Field(
        default_factory=list, description="Jobs whose successful runs start this one."
    )
    validation: Validation | None = Field(
        default=None, description="Validation gate; no gate when unset."
    )
    cost_budget_usd: float | None = Field(default=None, gt=0, description="Per-run budget.")
    airflow: AirflowSettings = Field(default_factory=AirflowSettings, description="Task retries.")
    downstream: list[DownstreamStep] = Field(
        default_factory=list,
        description="Steps after a successful, valid run: in order, unless their `after` says "
        "otherwise.",
    )

    @field_validator("script")
    @classmethod
    def _script_path(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/") or not value.endswith(".py"):
            raise ValueError(
                f"{value!r} is not accepted: give a '.py' path relative to the repository "
                "root, e.g. 'glue_scripts/jobs/sales_ingest.py'"
            )
        return value

    @field_validator("depends_on")
    @classmethod
    def _unique_dependencies(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value!r} lists a job more than once")
        return value

    @field_validator("downstream")
    @classmethod
    def _unique_steps(cls, value: list[Any]) -> list[Any]:
        names = [step.name for step in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"step names must be unique; repeated: {', '.join(duplicates)}")
        return value


# --- environments ------------------------------------------------------------------------------


AvailabilityZone = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]$")]


class NewVpc(_Model):
    """Create a VPC: two private isolated subnets, no NAT and no internet gateway."""

    cidr: str = Field(default="10.40.0.0/16", description="IPv4 CIDR, /16 to /24.")
    availability_zones: list[AvailabilityZone] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Two AZs of the region; default '<region>a' and '<region>b' (no lookup).",
    )

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        import ipaddress

        try:
            network = ipaddress.IPv4Network(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 CIDR ({exc}); e.g. '10.40.0.0/16'") from exc
        if not 16 <= network.prefixlen <= 24:
            raise ValueError(f"{value!r}: the VPC CIDR must be /16 to /24")
        return value


class ExistingVpc(_Model):
    """Use a VPC that exists already, given by ids (no lookups: synth stays offline)."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$")
    availability_zones: list[str] = Field(min_length=2, max_length=2)
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        min_length=2, max_length=2, description="Two private subnets, one per AZ, in AZ order."
    )
    route_table_ids: list[Annotated[str, Field(pattern=r"^rtb-[0-9a-f]{8,17}$")]] = Field(
        min_length=2, max_length=2, description="The subnets' route tables, in the same order."
    )
    create_endpoints: bool = Field(
        default=True,
        description="Create the VPC endpoints; false when the VPC has them (private DNS clash).",
    )


class Network(_Model):
    """The environment's private network."""

    new_vpc: NewVpc | None = None
    existing_vpc: ExistingVpc | None = None
    egress: bool = Field(
        default=False,
        description="Opt in to a route to the internet, for steps that call one (dbt Cloud, "
        "Tableau, an http step on a public host): a new VPC gets a NAT gateway; for an "
        "existing VPC it says that its subnets route out already. `make review` flags the "
        "change as a network broadening.",
    )

    @model_validator(mode="after")
    def _one_vpc(self) -> Network:
        if (self.new_vpc is None) == (self.existing_vpc is None):
            raise ValueError("set exactly one of 'new_vpc' or 'existing_vpc'")
        return self


LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
MwaaClass = Literal[
    "mw1.micro", "mw1.small", "mw1.medium", "mw1.large", "mw1.xlarge", "mw1.2xlarge"
]


class MwaaLogLevels(_Model):
    """Level per MWAA log module; every module is always on."""

    dag_processing: LogLevel = "WARNING"
    scheduler: LogLevel = "WARNING"
    task: LogLevel = "INFO"
    webserver: LogLevel = "WARNING"
    worker: LogLevel = "WARNING"


class Mwaa(_Model):
    """The MWAA environment's size."""

    environment_class: MwaaClass = "mw1.small"
    min_workers: int = Field(default=1, ge=1, le=25)
    max_workers: int = Field(default=5, ge=1, le=25)
    schedulers: int = Field(default=2, ge=1, le=5)
    min_webservers: int = Field(default=2, ge=1, le=5)
    max_webservers: int = Field(default=2, ge=1, le=5)
    log_levels: MwaaLogLevels = Field(default_factory=MwaaLogLevels)

    @model_validator(mode="after")
    def _sizes(self) -> Mwaa:
        if self.min_workers > self.max_workers:
            raise ValueError(
                f"min_workers {self.min_workers} exceeds max_workers {self.max_workers}"
            )
        if self.min_webservers > self.max_webservers:
            raise ValueError(
                f"min_webservers {self.min_webservers} exceeds max_webservers {self.max_webservers}"
            )
        if self.environment_class == "mw1.micro":
            if (self.schedulers, self.max_workers, self.max_webservers) != (1, 1, 1):
                raise ValueError(
                    "mw1.micro runs exactly 1 scheduler, 1 worker and 1 webserver; set "
                    "schedulers, min/max_workers and min/max_webservers to 1"
                )
        elif self.schedulers < 2 or self.min_webservers < 2:
            raise ValueError(f"{self.environment_class} needs 2-5 schedulers and 2-5 webservers")
        return self


class TriggerSettings(_Model):
    """The trigger Lambda: S3 object events -> MWAA InvokeRestApi."""

    invoke_rest_api_tps: int = Field(
        default=10,
        ge=1,
        le=100,
        description="MWAA's InvokeRestApi throttle for this environment (10 TPS by default); "
        "the intake's concurrency (the event source mapping's maximum and the Lambda's "
        "reserved concurrency, half of this, at least 2) is sized to stay under it.",
    )
    timeout_seconds: int = Field(
        default=60,
        ge=10,
        le=180,
        description="Lambda timeout, within which 429/5xx are retried. At most 180 s: the "
        "intake queue hides a message six times as long after a crash, and a crashing "
        "message must still reach the dead-letter queue within 7 days.",
    )
    retry_hours: int = Field(
        default=24,
        ge=6,
        le=168,
        description="How long a landed file's event keeps coming back, with backoff, while its "
        "run cannot be started (MWAA away, throttling, a failing trigger); then it is "
        "dead-lettered with the reason. At least 6 h, at most 7 days (the queue keeps "
        "messages 14 days).",
    )
    archive_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="How long the EventBridge archive keeps the source buckets' Object Created "
        "events, which `make replay` re-delivers.",
    )
    oldest_message_alarm_minutes: int = Field(
        default=15,
        ge=5,
        le=1440,
        description="Alarm when a landed file has waited this long for its DAG run.",
    )


class Monitoring(_Model):
    """The environment's alarms, which notify the alert topic, and their thresholds."""

    scheduler_heartbeat_missing_minutes: int = Field(
        default=15,
        ge=5,
        le=1440,
        multiple_of=5,
        description="Alarm when no MWAA scheduler has sent a heartbeat for this many minutes "
        "(a multiple of 5).",
    )
    queued_tasks_threshold: int = Field(
        default=10,
        ge=1,
        description="Alarm when more Airflow tasks than this stay queued for queued_tasks_minutes.",
    )
    queued_tasks_minutes: int = Field(
        default=30,
        ge=5,
        le=1440,
        multiple_of=5,
        description="How long the queue must stay above queued_tasks_threshold (a multiple of 5).",
    )
    failed_runs_per_hour: int = Field(
        default=3,
        ge=1,
        description="Alarm when this many Glue runs end FAILED, TIMEOUT or STOPPED within an "
        "hour; each such run also alerts on its own.",
    )
    daily_cost_alarm_usd: float | None = Field(
        default=None,
        gt=0,
        description="Alarm when the Glue runs of one day cost more than this; no alarm if unset.",
    )
    fallback_emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list,
        description="Emailed (through the <prefix>-<env>-alerts-fallback topic) when the alert "
        "notifier itself fails: its own alarms cannot reach Slack or Teams through it.",
    )


class AlertChannel(_Model):
    """Where failure alerts go. The webhook URL is read from Secrets Manager at run time."""

    type: Literal["slack", "teams"]
    secret_name: str = Field(
        pattern=r"^glueflow/[A-Za-z0-9/_+=.@-]{1,200}$",
        description="Secrets Manager secret holding the webhook URL, under 'glueflow/'.",
    )


class DataBucket(_Model):
    """A data bucket the environment declares; jobs refer to it by its key."""

    description: str = ""
    name: str | None = Field(
        default=None, description="Physical bucket name; derived from prefix, env and key if unset."
    )

    _bucket_name = field_validator("name")(classmethod(lambda cls, value: _s3_bucket(value)))


KMS_KEY_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/[0-9a-f-]{36}$"
)


class ExternalBucket(_Model):
    """A bucket in another AWS account whose files this environment's jobs read and are
    started by. Its owner deploys the source side (`make deploy-source`) or applies the
    statements `make source-policy` prints; jobs refer to it by its key, as to their own
    buckets, to read and to trigger, never to write."""

    description: str = ""
    account: str = Field(
        pattern=r"^\d{12}$", description="The source's 12-digit AWS account id, quoted."
    )
    region: str = Field(
        pattern=AWS_REGION_RE,
        description="The bucket's region; it must be the environment's (S3 sends its events to "
        "EventBridge in the bucket's region).",
    )
    name: str = Field(description="The bucket's name.")
    kms_key_arn: str | None = Field(
        default=None,
        description="The KMS key that encrypts the bucket's objects (SSE-KMS), if any: job "
        "roles get kms:Decrypt on it, through S3 only.",
    )
    prefixes: list[S3Prefix] = Field(
        min_length=1,
        description="The key prefixes the source offers this environment, e.g. 'orders/'. "
        "Jobs read and are triggered under these only; the source forwards only their events.",
    )
    bucket_policy: Literal["printed", "managed"] = Field(
        default="printed",
        description="printed: the source's owner adds the statements `make source-policy` "
        "prints to the bucket's policy. managed: the source stack owns the bucket's whole "
        "policy (only for a bucket that has none: CloudFormation replaces it).",
    )

    _bucket_name = field_validator("name")(classmethod(lambda cls, value: _s3_bucket(value)))

    @field_validator("kms_key_arn")
    @classmethod
    def _key_arn(cls, value: str | None) -> str | None:
        if value is not None and not KMS_KEY_ARN_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a KMS key ARN: give 'arn:aws:kms:<region>:<account>:key/"
                "<key id>' (a key id, not an alias: a key policy grant names the key)"
            )
        return value

    @field_validator("prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        if "" in value:
            raise ValueError(
                "'' would offer the whole bucket: name the prefixes the source offers, e.g. "
                "'orders/'"
            )
        if len(set(value)) != len(value):
            raise ValueError(f"{value!r} lists a prefix more than once")
        return value


class ExternalTable(_Model):
    """A table another Glueflow deployment publishes (its own environment file lists this
    account under `table_consumers`). Each time it is published, its Table Published event
    reaches this environment's default bus, and jobs whose `trigger.table` is this key run.
    docs/architecture.md, decision 20."""

    description: str = ""
    account: str = Field(
        pattern=r"^\d{12}$",
        description="The producer's 12-digit AWS account id, quoted (this account for another "
        "environment deployed here).",
    )
    region: str = Field(
        pattern=AWS_REGION_RE,
        description="The producer's region; it must be the environment's (its events are "
        "forwarded bus to bus within one region).",
    )
    environment: str = Field(
        description="The producer's environment name (its environment file's name, e.g. prod)."
    )
    name_prefix: str = Field(
        default="glueflow", description="The producer's name_prefix (default glueflow)."
    )
    table: TableName = Field(description="The table's name in the producer's catalog database.")

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        problem = check_environment_name(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not PREFIX_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a valid name_prefix: use 2-16 lowercase letters and digits, "
                "starting with a letter"
            )
        return value


class TableConsumer(_Model):
    """Another AWS account whose Glueflow deployments depend on tables this environment
    publishes: their Table Published events are forwarded to its default bus."""

    account: str = Field(
        pattern=r"^\d{12}$", description="The consumer's 12-digit AWS account id, quoted."
    )
    tables: list[TableName] = Field(
        min_length=1,
        description="Tables this environment's jobs write whose Table Published events the "
        "consumer gets.",
    )

    @field_validator("tables")
    @classmethod
    def _unique_tables(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value!r} lists a table more than once")
        return value


class GluePricing(_Model):
    """USD per DPU-hour in this environment's region, by execution class."""

    standard: float = Field(default=0.44, gt=0)
    flex: float = Field(default=0.29, gt=0)


class MwaaClassPricing(_Model):
    """USD per hour for one MWAA environment class."""

    environment: float = Field(gt=0, description="The environment, with its base scheduler.")
    worker: float = Field(gt=0, description="Each worker above the one included.")
    scheduler: float = Field(gt=0, description="Each scheduler above the included ones.")
    webserver: float = Field(gt=0, description="Each webserver above the included ones.")


def _mwaa_prices() -> dict[str, MwaaClassPricing]:
    # us-east-1 list prices; the environment price covers 1 worker, 2 schedulers (1 on micro)
    # and 2 webservers (1 on micro).
    rows = {
        "mw1.micro": (0.24, 0.24, 0.24, 0.24),
        "mw1.small": (0.49, 0.055, 0.05, 0.05),
        "mw1.medium": (0.74, 0.11, 0.10, 0.10),
        "mw1.large": (0.99, 0.22, 0.20, 0.20),
        "mw1.xlarge": (1.98, 0.44, 0.40, 0.40),
        "mw1.2xlarge": (3.96, 0.88, 0.80, 0.80),
    }
    return {
        name: MwaaClassPricing(environment=e, worker=w, scheduler=s, webserver=ws)
        for name, (e, w, s, ws) in rows.items()
    }


class Pricing(_Model):
    """Prices used for run cost and the synth summary. Check them against your region."""

    glue_dpu_hour_usd: GluePricing = Field(default_factory=GluePricing)
    mwaa_hour_usd: dict[MwaaClass, MwaaClassPricing] = Field(
        default_factory=_mwaa_prices, description="Per MWAA class; replace with your region's."
    )
    interface_endpoint_az_hour_usd: float = Field(
        default=0.011, gt=0, description="One interface VPC endpoint in one AZ, per hour."
    )
    nat_gateway_hour_usd: float = Field(default=0.048, gt=0, description="Only with egress.")
    kms_key_month_usd: float = Field(default=1.0, gt=0, description="Per customer managed key.")
    dashboard_month_usd: float = Field(default=3.0, gt=0, description="Per CloudWatch dashboard.")
    alarm_month_usd: float = Field(
        default=0.10, gt=0, description="Per standard-resolution CloudWatch alarm."
    )
    custom_metric_month_usd: float = Field(
        default=0.30,
        gt=0,
        description="Per CloudWatch custom metric that receives data in the month (first "
        "10,000 of the account).",
    )


# The values CloudWatch Logs accepts for a log group's retention.
LogRetentionDays = Literal[
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
]


class EnvironmentConfig(_Model):
    """One deployment environment. One file under configs/environments/ per environment."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        title="Glueflow environment",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    account: str = Field(pattern=r"^\d{12}$", description="12-digit AWS account id, quoted.")
    region: str = Field(pattern=AWS_REGION_RE, description="AWS region, e.g. eu-west-1.")
    name_prefix: str = Field(
        default="glueflow", description="Prefix of every physical name: 2-16 lowercase a-z0-9."
    )
    network: Network = Field(default_factory=lambda: Network(new_vpc=NewVpc()))
    mwaa: Mwaa = Field(default_factory=Mwaa)
    trigger: TriggerSettings = Field(default_factory=TriggerSettings)
    buckets: dict[BucketKey, DataBucket] = Field(min_length=1)
    external_buckets: dict[BucketKey, ExternalBucket] = Field(
        default_factory=dict,
        description="Buckets in other AWS accounts that jobs read and are triggered by, by key "
        "(keys shared with `buckets` are refused).",
    )
    external_tables: dict[TableKey, ExternalTable] = Field(
        default_factory=dict,
        description="Tables other Glueflow deployments publish, by key; a job's trigger.table "
        "names one to run each time it is published.",
    )
    table_consumers: list[TableConsumer] = Field(
        default_factory=list,
        description="Other AWS accounts that depend on tables this environment publishes: each "
        "gets their Table Published events on its default bus.",
    )
    alerts: list[AlertChannel] = Field(default_factory=list)
    monitoring: Monitoring = Field(
        default_factory=Monitoring,
        description="Alarm thresholds; every alarm notifies the alert topic.",
    )
    removal_policy: Literal["retain", "destroy"] = "retain"
    log_retention_days: LogRetentionDays = Field(
        default=365, description="Retention of every log group the platform creates."
    )
    job_shards: int = Field(
        default=32,
        ge=1,
        le=200,
        description=(
            "How many stacks the Glue jobs are spread over, by a hash of the job name. "
            "Set it once: changing it moves jobs between stacks, which recreates them."
        ),
    )
    pricing: Pricing = Field(default_factory=Pricing)
    tags: Tags = Field(default_factory=dict)
    job_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per job name, any job fields to replace in this environment.",
    )

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not PREFIX_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a valid name_prefix: use 2-16 lowercase letters and digits, "
                "starting with a letter"
            )
        return value


def check_environment_name(name: str) -> str | None:
    """Return a message when `name` (the file stem) cannot name an environment."""
    if ENV_NAME_RE.fullmatch(name):
        return None
    return (
        f"{name!r} is not a valid environment name: use 2-12 lowercase letters and digits, "
        "starting with a letter (it is part of every physical name)"
    )
