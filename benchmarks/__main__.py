"""Run every benchmark and print its table with the machine it ran on."""

from __future__ import annotations

import os
import platform

from benchmarks import config_bench


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    print(f"machine: {machine()}\n")
    print(config_bench.report(config_bench.run()))


if __name__ == "__main__":
    main()
