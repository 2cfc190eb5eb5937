"""Orchestration constructs."""
