"""make review: what a change does to each environment, before it merges."""
