"""Messaging constructs: queues and the alarms that watch them."""
