"""Constrained assignment on a cost graph, solved with OR-Tools. Knows nothing of weights."""

from .assignment import Assignment as Assignment
from .assignment import solve_assignment as solve_assignment
from .cover import Cover as Cover
from .cover import SolveLimitError as SolveLimitError
from .cover import solve_cover as solve_cover
