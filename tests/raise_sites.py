"""Where the sources raise, read with `ast`, and a `pytest.raises` that also checks where an error came from.

A raise site is `(module, function, error type)`: `function` is the qualified name of the enclosing
function (`Mapping.apply.value_of`), the type is the class a `raise` builds, directly or through a function
that returns it (`raise ambiguity_error(...)` raises an AmbiguityError). A bare `raise`, or `raise error` of
the error an `except` clause caught, is a re-raise: it builds nothing.
"""

import ast
import contextlib
import functools
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("weightbridge", "solver")
RE_RAISE = "re-raise"


@functools.cache
def _parsed():
    """Every source module of the packages, parsed: {module name: tree}."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[module] = ast.parse(path.read_text(), str(path))
    return modules


@functools.cache
def _returned_types():
    """For each function that builds errors for others to raise, the classes it returns: {name: {class}}."""
    returned = {}
    for tree in _parsed().values():
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef):
                for node in ast.walk(function):
                    if isinstance(node, ast.Return) and isinstance(node.value, ast.Call):
                        returned.setdefault(function.name, set()).add(_callee(node.value))
    return returned


def _callee(call):
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", ast.unparse(call.func))


def _raised_type(raise_node, caught):
    """The class a raise statement builds, or RE_RAISE."""
    error = raise_node.exc
    if error is None or (isinstance(error, ast.Name) and error.id in caught):
        return RE_RAISE
    if not isinstance(error, ast.Call):
        raise AssertionError(f"cannot tell what `{ast.unparse(raise_node)}` raises: raise a class or a function's result")
    name = _callee(error)
    if name[:1].isupper():
        return name
    types = _returned_types().get(name, set())
    if len(types) != 1:
        raise AssertionError(f"`{ast.unparse(raise_node)}`: {name} must return one error class, returns {sorted(types)}")
    (error_class,) = types
    return error_class


@functools.cache
def raise_sites():
    """Every raise statement of the packages: {(module, line): (module, function, error type)}."""
    sites = {}

    def visit(node, module, scope, caught):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, module, scope + (child.name,), caught)
                continue
            if isinstance(child, ast.Raise):
                sites[module, child.lineno] = (module, ".".join(scope) or "<module>", _raised_type(child, caught))
            if isinstance(child, ast.ExceptHandler) and child.name:
                visit(child, module, scope, caught | {child.name})
            else:
                visit(child, module, scope, caught)

    for module, tree in _parsed().items():
        visit(tree, module, (), frozenset())
    return sites


@functools.cache
def _module_of(filename):
    path = Path(filename).resolve()
    if path.is_relative_to(ROOT) and path.relative_to(ROOT).parts[0] in PACKAGES:
        return ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return None


@contextlib.contextmanager
def _origins():
    """The raise sites an exception started from while the block ran (each `raise` of the packages)."""
    found = []

    def local(frame, event, arg):
        # An exception starts in the frame whose traceback entry is the last one.
        if event == "exception" and arg[2].tb_next is None:
            site = raise_sites().get((_module_of(frame.f_code.co_filename), frame.f_lineno))
            if site is not None:
                found.append(site)
        return local

    def call(frame, event, arg):
        # Every call in the block comes here: only the sources' frames are followed.
        if _module_of(frame.f_code.co_filename) is None:
            return None
        frame.f_trace_lines = False
        return local

    previous = sys.gettrace()
    sys.settrace(call)
    try:
        yield found
    finally:
        sys.settrace(previous)


@contextlib.contextmanager
def raises_at(module, function, error_type):
    """`pytest.raises(error_type)` for exactly that class, raised by a `raise` in `module`'s `function`.

    The meta test reads the three arguments from the calls in the tests: they are written out, as
    literals, here or in a `site` call.
    """
    with pytest.raises(error_type) as raised, _origins() as found:
        yield raised
    assert type(raised.value) is error_type, f"raised {type(raised.value).__name__}, not {error_type.__name__}"
    assert (module, function, error_type.__name__) in found, f"raised from {found}, not from {module}.{function}"


@contextlib.contextmanager
def exits_after(module, function, error_type):
    """For the command line: the block exits with code 1 after `module`'s `function` raised `error_type`
    (which the command line turns into one line on stderr)."""
    with pytest.raises(SystemExit) as raised, _origins() as found:
        yield raised
    assert raised.value.code == 1
    assert (module, function, error_type.__name__) in found, f"raised from {found}, not from {module}.{function}"


def site(module, function, error_type):
    """A raise site as a row of a table of cases declares it, for `raises_at(*site)`."""
    return module, function, error_type


DECLARING = ("raises_at", "exits_after", "site")


def declared_sites(paths):
    """The sites the cases in `paths` declare, counted: every `raises_at`, `exits_after` and `site` call with
    the site written out (`raises_at(*site)` takes one that a `site` call declared)."""
    declared = Counter()
    for path in paths:
        tree = ast.parse(Path(path).read_text(), str(path))
        # A module name may stand in a constant of the file (READERS = "weightbridge._readers").
        constants = {target.id: statement.value.value for statement in tree.body if isinstance(statement, ast.Assign)
                     and isinstance(statement.value, ast.Constant) for target in statement.targets if isinstance(target, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in DECLARING):
                continue
            if any(isinstance(argument, ast.Starred) for argument in node.args):
                continue
            module, function, error = node.args
            module = constants[module.id] if isinstance(module, ast.Name) else module.value
            declared[module, function.value, error.attr if isinstance(error, ast.Attribute) else error.id] += 1
    return declared
