"""Glueflow's config model: validate job and environment YAML, compile `manifest.json`.

Used at synth and in CI only; code that runs on AWS reads the compiled manifest instead.
"""
