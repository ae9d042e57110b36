"""Composition roots (ریشه ترکیب): one per process kind (embedded, cluster API, relay, worker),
the only place that builds the system from settings."""
