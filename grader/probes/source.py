"""Reading the learner's Python source for platform-specific readiness APIs,
by its syntax tree (``ast``): comments and strings never count, aliases do.

Rule 1: what is named, not what runs. ``from select import epoll`` is a
finding at the import, ``import select as s; s.epoll()`` at the attribute,
``asyncio.selector_events.selectors.EpollSelector`` anywhere along a dotted
chain that starts at an imported name, ``getattr(select, "epoll")`` at the
call. Aliases are tracked per file and flow-insensitively (a module bound to
a name anywhere in the file is that module everywhere in it): simple, and
nobody shadows ``select`` on purpose.

Rule 2: read-only, like every probe. Nothing here imports or runs the
learner's code; a file that does not parse is reported as unreadable, never
guessed at.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finding", "Unreadable", "scan", "scan_file", "scan_tree"]

PORTABLE = "selectors.DefaultSelector()"
# module -> attribute -> why naming it is not portable
SELECT = {
    "epoll": "Linux only",
    "poll": "not on Windows",
    "devpoll": "Solaris only",
    "kqueue": "macOS and the BSDs only",
    "select": "capped at FD_SETSIZE: 1,024 descriptors on Linux",
}
SELECTORS = {
    "EpollSelector": "Linux only",
    "PollSelector": "not on Windows",
    "DevpollSelector": "Solaris only",
    "KqueueSelector": "macOS and the BSDs only",
    "SelectSelector": "capped at FD_SETSIZE: 1,024 descriptors on Linux",
}
# The portable choice itself, and the abstract base: naming these picks nothing.
SELECTORS_ALLOWED = {"DefaultSelector", "BaseSelector"}
MODULES = ("select", "selectors")


@dataclass(frozen=True)
class Finding:
    path: str          # relative to the learner's folder
    line: int
    name: str          # "select.epoll", "selectors.SelectSelector"
    why: str

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.name} ({self.why})"


@dataclass(frozen=True)
class Unreadable:
    path: str
    line: int
    error: str

    def describe(self) -> str:
        return f"{self.path}:{self.line}: could not be parsed ({self.error})"


def forbidden(module: str, attr: str) -> str | None:
    """Why ``module.attr`` names a mechanism by hand, or None."""
    if module == "select":
        return SELECT.get(attr)
    if module == "selectors" and attr.endswith("Selector") and attr not in SELECTORS_ALLOWED:
        return SELECTORS.get(attr, "a mechanism chosen by hand")
    return None


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"]; None if the chain does not start at a name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _import_call(node: ast.AST) -> str | None:
    """The module of ``__import__("select")`` / ``importlib.import_module("select")``."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    arg = node.args[0]
    if not (isinstance(arg, ast.Constant) and arg.value in MODULES):
        return None
    if _dotted(node.func) in (["__import__"], ["importlib", "import_module"], ["import_module"]):
        return arg.value
    return None


class _Scanner:
    def __init__(self, tree: ast.AST, path: str):
        self.tree, self.path = tree, path
        self.aliases: dict[str, str] = {}      # local name -> "select" / "selectors"
        self.imported: set[str] = set()        # every name an import statement binds
        self.starred: set[str] = set()         # select/selectors imported with *
        self.findings: dict[tuple[int, int], Finding] = {}

    def run(self) -> list[Finding]:
        self._bind()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in MODULES:
                for alias in node.names:
                    self._maybe(node, node.module, alias.name)
            elif isinstance(node, ast.Attribute):
                self._attribute(node)
            elif isinstance(node, ast.Call) and _dotted(node.func) == ["getattr"] and len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    self._maybe(node, self._module_of(node.args[0]), name.value)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in self.aliases:
                for module in self.starred:
                    self._maybe(node, module, node.id)
        return sorted(self.findings.values(), key=lambda f: f.line)

    def _bind(self):
        assigns = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.imported.add(local)
                    if alias.name in MODULES:
                        self.aliases[local] = alias.name
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name == "*":
                        if node.level == 0 and node.module in MODULES:
                            self.starred.add(node.module)
                        continue
                    self.imported.add(alias.asname or alias.name)
                    # from asyncio import selectors: the module itself (from select import select is not)
                    if alias.name in MODULES and node.module not in MODULES:
                        self.aliases[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.Assign):
                assigns.append(node)
        # s = __import__("select"); t = s: aliases of aliases, to a fixed point.
        changed = True
        while changed:
            changed = False
            for node in assigns:
                module = self._module_of(node.value)
                for target in node.targets:
                    if module and isinstance(target, ast.Name) and self.aliases.get(target.id) != module:
                        self.aliases[target.id] = module
                        changed = True

    def _module_of(self, node: ast.AST) -> str | None:
        """The module (select/selectors) an expression stands for, if known."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        chain = _dotted(node)
        if chain and chain[0] in self.imported and chain[-1] in MODULES:
            return chain[-1]           # asyncio.selector_events.selectors
        return _import_call(node)

    def _attribute(self, node: ast.Attribute):
        module = self._module_of(node.value)
        if module:
            self._maybe(node, module, node.attr)

    def _maybe(self, node: ast.AST, module: str | None, attr: str):
        why = forbidden(module, attr) if module else None
        if why:
            key = (node.lineno, node.col_offset)
            self.findings.setdefault(key, Finding(self.path, node.lineno, f"{module}.{attr}", why))


def scan(source: str, path: str = "<source>") -> list[Finding]:
    """The platform-specific names in one file (SyntaxError if it does not parse)."""
    return _Scanner(ast.parse(source, filename=path), path).run()


def scan_file(file: Path, root: Path) -> list[Finding] | Unreadable:
    rel = str(file.relative_to(root))
    try:
        return scan(file.read_text(encoding="utf-8", errors="surrogateescape"), rel)
    except SyntaxError as exc:
        return Unreadable(rel, exc.lineno or 0, exc.msg)
    except (OSError, ValueError) as exc:
        return Unreadable(rel, 0, str(exc))


def scan_tree(files: list[Path], root: Path) -> tuple[list[Finding], list[Unreadable]]:
    """Every finding in ``files`` (paths under ``root``), and the files that
    could not be read."""
    findings, unreadable = [], []
    for file in files:
        result = scan_file(file, root)
        if isinstance(result, Unreadable):
            unreadable.append(result)
        else:
            findings.extend(result)
    return findings, unreadable
