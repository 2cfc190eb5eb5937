"""Network constructs."""
