"""Pure folds of events into the EOC's boards. No I/O: the runners (consumers/) bring events."""

from .board import Board
from .fold import apply, as_of, fold, reason_of, undecodable

__all__ = ["Board", "apply", "as_of", "fold", "reason_of", "undecodable"]
