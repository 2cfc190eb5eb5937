"""Reusable L3 constructs, grouped by domain. They take typed props and never read configs/."""
