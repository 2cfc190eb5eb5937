"""Stacks compose constructs from validated config; one module per stack."""
