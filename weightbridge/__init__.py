"""weightbridge: map deep learning weights between implementations of the same architecture."""

from ._adapt import adapt as adapt
from ._features import FEATURE_WEIGHTS as FEATURE_WEIGHTS
from ._errors import AmbiguityError as AmbiguityError
from ._errors import DtypeError as DtypeError
from ._errors import FormatError as FormatError
from ._errors import HintError as HintError
from ._errors import ProblemTooLargeError as ProblemTooLargeError
from ._errors import ShapeError as ShapeError
from ._errors import TreeError as TreeError
from ._errors import UnmatchedError as UnmatchedError
from ._errors import WeightbridgeError as WeightbridgeError
from ._formats import Format as Format
from ._mapping import Mapping as Mapping
from ._mapping import Pair as Pair
from ._match import cost_graph as cost_graph
from ._match import match as match
from ._readers import load_lazy as load_lazy
from ._readers import tree_signature as signature

__version__ = "0.1.0"
