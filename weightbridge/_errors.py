"""The errors weightbridge raises. All are `ValueError`s and name the offending keys."""


class WeightbridgeError(ValueError):
    """Base class of every error weightbridge raises."""


class TreeError(WeightbridgeError):
    """An input is not a weight tree: empty, not a container, leaves that are not arrays, duplicate names."""


class FormatError(WeightbridgeError):
    """An unknown or malformed format or separator."""


class HintError(WeightbridgeError):
    """A hint that matches no weight or is never needed.

    Attributes:
        hint: the hint at fault, where one is (None for hints at fault together).
        never_needed: True when the mapping is the same and unique without `hint`: passing the
            hints again without it works. Hints proposed over several rounds of AmbiguityErrors
            can make an earlier round's hint unnecessary.
    """

    def __init__(self, message, hint=None, never_needed=False):
        super().__init__(message)
        self.hint = hint
        self.never_needed = never_needed


class UnmatchedError(WeightbridgeError):
    """Weights left without a partner."""


class ShapeError(UnmatchedError):
    """Weights that correspond by name but whose shapes no layout transform can reconcile."""


class DtypeError(UnmatchedError):
    """Weights that correspond by name and shape but hold different kinds of numbers."""


class AmbiguityError(WeightbridgeError):
    """The evidence does not make the mapping unique.

    Attributes:
        groups: the tied groups, each a pair ``(my_names, their_names)``.
        hints: hints ``(my_substring, their_substring)`` that settle the ambiguity
            (empty when no hint can, e.g. an undecidable axis order).
        tentative: the :class:`Mapping` the solver would return if the rows the message shows were right,
            every pair with its transform, cost, margin, features and runner-up; for looking at, not for
            converting (None when not known).
        tied: the `my` weights the ambiguity leaves open, each with the number of its tied group.
    """

    def __init__(self, message, groups=(), hints=(), tentative=None, tied=None):
        super().__init__(message)
        self.groups = tuple(groups)
        self.hints = list(hints)
        self.tentative = tentative
        self.tied = dict(tied or {})


class ProblemTooLargeError(WeightbridgeError):
    """A part of the problem that the solver could not settle within its limits.

    Attributes:
        my_names, their_names: the weights of that part, on each side.
    """

    def __init__(self, message, my_names=(), their_names=()):
        super().__init__(message)
        self.my_names = tuple(my_names)
        self.their_names = tuple(their_names)
