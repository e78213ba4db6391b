"""Loading specs: YAML read safely, from the installed package or from a folder on disk.

A study is a folder under ``specs/studies/``; ``--study NAME`` finds the shipped one, ``--study PATH``
a folder of one's own. YAML is always read with ``yaml.safe_load``: a spec can never run code.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trialkit.errors import SpecError


def study_dir(study: str | Path) -> Path:
    """Return the folder of a study: a path on disk, or the name of a study shipped with trialkit."""
    candidate = Path(study)
    if candidate.is_dir():
        return candidate
    shipped = resources.files("trialkit.specs").joinpath("studies", str(study))
    if shipped.is_dir():
        return Path(str(shipped))
    raise SpecError(f"unknown study '{study}'; shipped studies: {', '.join(shipped_studies())} (or give a folder path)")


def shipped_studies() -> list[str]:
    """The names of the studies shipped with trialkit (folders of specs/studies/), sorted."""
    return sorted(p.name for p in resources.files("trialkit.specs").joinpath("studies").iterdir() if p.is_dir())


# libyaml's safe loader when PyYAML was built with it (the standards YAML parses ~10x faster), else
# the pure-Python one; both are the safe loader: no Python objects from tags, ever.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Limits on what one YAML file may hold. The largest shipped spec is some 100 KB and expands to a few
# thousand nodes; the limits sit far above that and far below what hurts: a "billion laughs" of
# nested aliases is a few hundred bytes that expand to 10^9 nodes (a raw dictionary's ``fields``
# walked that way grew to 2.45 GB before anyone stopped it).
MAX_YAML_BYTES = 16 * 1024 * 1024
MAX_YAML_NODES = 1_000_000      # nodes counted with every alias expanded
MAX_YAML_DEPTH = 100            # levels of nesting


def load_yaml(path: Path) -> Any:
    """Read one YAML file safely; a syntax error names the file and line, and a file too big, too
    deep or whose aliases expand past ``MAX_YAML_NODES`` is a SpecError before it is built."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_YAML_BYTES:
            raise SpecError(f"YAML file of {size:,} bytes is larger than the {MAX_YAML_BYTES:,} a spec may have", file=str(path))
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec: {exc.strerror}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"not utf-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, path)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise SpecError(f"invalid YAML: {exc.problem}", file=str(path), row=line) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", file=str(path)) from exc
    except RecursionError:
        raise SpecError(f"YAML nested more than {MAX_YAML_DEPTH} levels deep", file=str(path)) from None
    finally:
        loader.dispose()


def _check_size(root: yaml.Node, path: Path) -> None:
    """Refuse a document nested deeper than MAX_YAML_DEPTH or that expands (aliases repeat the node
    they name) to more than MAX_YAML_NODES nodes. The count is memoized per node, so it costs one
    pass over the distinct nodes however far the aliases would expand; iterative, so a deep document
    cannot exhaust the stack counting itself."""
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if depth > MAX_YAML_DEPTH:
            raise SpecError(f"YAML nested more than {MAX_YAML_DEPTH} levels deep (line {node.start_mark.line + 1})",
                            file=str(path))
        if id(node) in expanded:
            continue
        children = ([v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if children_done or not children:
            expanded[id(node)] = 1 + sum(expanded[id(c)] for c in children)
            if expanded[id(node)] > MAX_YAML_NODES:
                raise SpecError(f"YAML expands to more than {MAX_YAML_NODES:,} values (aliases repeating aliases, "
                                f"line {node.start_mark.line + 1}); write the values out or use fewer aliases",
                                file=str(path))
            continue
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in expanded)
