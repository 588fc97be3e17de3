"""Writing benchmarks/RESULTS.md: each benchmark owns level-2 sections and replaces only those.

```python
from benchmarks.results import RESULTS_PATH, write_section

write_section(RESULTS_PATH, "## Scale", body)   # replaces "## Scale" or appends it; the rest stays
```
"""

import importlib.metadata
import os
import platform
import subprocess
import tempfile

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(BENCHMARKS)
RESULTS_PATH = os.path.join(BENCHMARKS, "RESULTS.md")
README_PATH = os.path.join(REPOSITORY, "README.md")


def write_atomically(path, text):
    """Write through a temporary file in the same folder and rename it, so readers never see half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".results-", suffix=".md")
    try:
        with os.fdopen(handle, "w") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def split_sections(text):
    """`text` cut before every level-2 heading: `[(heading or None for the preamble, chunk)]`.

    Headings inside fenced code blocks are not headings.
    """
    sections, heading, chunk, fenced = [], None, [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append((heading, "".join(chunk)))
            heading, chunk = line.rstrip("\n"), []
        chunk.append(line)
    sections.append((heading, "".join(chunk)))
    return [(h, c) for h, c in sections if h is not None or c]


def replace_section(text, heading, body):
    """`text` with the section under `heading` (a `## ` line) replaced by `heading` + `body`.

    The section runs to the next level-2 heading; its subsections (`###`) go with it. A missing
    section is appended at the end. Every other section is kept byte for byte.
    """
    if not heading.startswith("## ") or "\n" in heading:
        raise ValueError(f"a section heading is one line starting with '## ', got {heading!r}")
    new = f"{heading}\n\n{body.strip()}\n\n"
    sections = split_sections(text)
    if any(h == heading for h, _ in sections):
        return "".join(new if h == heading else chunk for h, chunk in sections)
    if text and not text.endswith("\n\n"):
        text += "\n" if text.endswith("\n") else "\n\n"
    return text + new


def keep_other_sections(old, new):
    """`new` followed by the sections of `old` whose headings `new` does not have.

    For a benchmark that writes the whole file: the sections other benchmarks wrote survive.
    """
    headings = {h for h, _ in split_sections(new)}
    kept = [chunk for h, chunk in split_sections(old) if h is not None and h not in headings]
    if not kept:
        return new
    return new.rstrip("\n") + "\n\n" + "".join(kept)


def write_section(path, heading, body):
    """Replace (or add) one section of the markdown file at `path`, atomically; an empty `path` (`--output ''`)
    writes nothing, the section having been printed."""
    if not path:
        return
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    write_atomically(path, replace_section(old, heading, body))


def versions(packages):
    """Versions of the interpreter, of `packages`, of this repository (with its commit) and of 0.0.4."""
    from benchmarks.legacy import LEGACY_VERSION

    found = {"python": platform.python_version()}
    for package in packages:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    import weightbridge

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPOSITORY
    ).stdout.strip()
    found["weightbridge"] = f"{weightbridge.__version__} (this repository{', commit ' + commit if commit else ''})"
    found["weightbridge (legacy)"] = LEGACY_VERSION
    return found


def versions_line(packages):
    """`versions(packages)` as one sentence for a results section."""
    return "Versions: " + ", ".join(f"{name} {version}" for name, version in versions(packages).items()) + "."
