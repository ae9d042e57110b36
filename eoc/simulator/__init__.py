"""A realistic simulated province that drives the system through its commands.

``simulate(base_url, system.signin, provinces=..., speed=..., seed=...)`` registers each province's
places and teams (``profiles``), then runs its life until stopped: line 123 calls
(``line123``), cases from other routes and direct admissions (``referrals``), the dispatcher
(``dispatch``), teams on shifts and on the road (``teams``), and stays in centres and houses
(``centres``). Everything goes through the HTTP command API (``client``); nothing writes the
boards or calls the service directly.
"""

from eoc.simulator.clock import SimClock
from eoc.simulator.driver import simulate
from eoc.simulator.profiles import (
           PROFILES,
           ProvinceProfile,
           expand,
           expected_ratios,
           profile_for,
)
from eoc.simulator.scenarios import Scenario
from eoc.simulator.stats import SimStats

__all__ = ["PROFILES", "ProvinceProfile", "Scenario", "SimClock", "SimStats", "expand", "expected_ratios",
           "profile_for", "simulate"]
