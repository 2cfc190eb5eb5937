"""Storage constructs."""
