"""Runners that feed events to the projections: embedded follower, relay, Faust workers, replay."""
