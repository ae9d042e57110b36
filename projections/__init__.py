"""Pure folds of events into the EOC's boards. No I/O: the runners (consumers/) bring events."""

from .board import Board
from .fold import apply, fold, reason_of, undecodable

__all__ = ["Board", "apply", "fold", "reason_of", "undecodable"]
