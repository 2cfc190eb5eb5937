"""Security constructs."""
