"""Pure folds of events into the EOC's boards. No I/O: the runners (consumers/) bring events."""

from projections.board import Board
from projections.fold import apply, as_of, fold, reason_of, undecodable

__all__ = ["Board", "apply", "as_of", "fold", "reason_of", "undecodable"]
