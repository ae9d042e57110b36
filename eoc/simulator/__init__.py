"""A realistic simulated province that drives the system through its commands.

``simulate(base_url, signer, provinces=..., speed=..., seed=...)`` registers each province's
places and teams (``profiles``), then runs its life until stopped: line 123 calls
(``line123``), cases from other routes and direct admissions (``referrals``), the dispatcher
(``dispatch``), teams on shifts and on the road (``teams``), and stays in centres and houses
(``centres``). Everything goes through the HTTP command API (``client``); nothing writes the
boards or calls the service directly.
"""

from .driver import simulate
from .profiles import PROFILES, ProvinceProfile, profile_for
from .stats import SimStats

__all__ = ["PROFILES", "ProvinceProfile", "SimStats", "profile_for", "simulate"]
