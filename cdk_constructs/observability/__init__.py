"""Alerts and what watches the platform: the notifier Lambda, dashboards, alarms."""
