"""A realistic simulated province that drives the system through its commands."""
