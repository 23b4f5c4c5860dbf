#!/usr/bin/env python3
"""Import circles between the library's modules: exits non-zero, naming each circle, if any.

Every source file under src/ is a module (src/a/b.rs and src/a/b/mod.rs are `a::b`). Each
`crate::`, `super::` and `self::` path a file names (in `use` trees and inline) is resolved to the
file that defines the item, following `pub use` re-exports (so `use super::Storage` in
kernels/conv.rs points at kernels/storage.rs, not at kernels/mod.rs). The edges are then lifted
to every level of the tree: an edge from `kernels::conv` to `gpu::context` is an edge between the
siblings `kernels` and `gpu` of the crate root; an edge from `kernels::conv` to
`kernels::staged` is one between the siblings `conv` and `staged` of `kernels`. A directory's own
mod.rs is a sibling of its children under the name `(mod)`. Every level must be acyclic: the
app over the engine, the plan over the model, variants over the conv they specialise.

The binary's src/main.rs and the crate root's own re-exports (src/lib.rs) are not nodes: the
root is the crate's front door, not a module anything sits beside.

Usage: scripts/import-cycles.py [--graph]   (--graph prints every level's edges)
"""

import os
import re
import sys

# Circles between a directory's mod.rs and its own children that are known and left for now,
# each with why: the checker fails on any other circle, and on one of these that grows. A
# sibling circle (two files of one directory, or two top-level modules) is never allowed.
ALLOWED = {
    ("crate::plan", ("(mod)", "run")): "Plan's methods split over two files (compile in mod.rs, run in run.rs)",
    ("crate::app::bench", ("(mod)", "noise", "plot", "profile", "table")):
        "bench's result types live in mod.rs beside the command that fills them",
    ("crate::weights", ("(mod)", "load", "pdparams")):
        "the file sniffer in mod.rs and the readers it dispatches to (parsers, changed elsewhere)",
    ("crate::weights::deploy", ("(mod)", "pdiparams", "pdmodel", "pir")):
        "the inference-model readers and their shared helpers in mod.rs (parsers, changed elsewhere)",
    ("crate::weights::pickle", ("(mod)", "reader", "value")):
        "the pickle machine's types in mod.rs and its reader (parsers, changed elsewhere)",
}

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_files():
    """{module path tuple: file path} for every library source file."""
    mods = {}
    for dirpath, _, files in os.walk(ROOT):
        rel = os.path.relpath(dirpath, ROOT)
        parts = () if rel == "." else tuple(rel.split(os.sep))
        for f in files:
            if not f.endswith(".rs"):
                continue
            if parts == () and f in ("lib.rs", "main.rs"):
                if f == "lib.rs":
                    mods[()] = os.path.join(dirpath, f)
                continue
            name = f[:-3]
            path = parts if name == "mod" else parts + (name,)
            mods[path] = os.path.join(dirpath, f)
    return mods


def strip(src):
    """Source without comments, string and char literals (kept line-aligned)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if src[i] == "\n" else "")
                    i += 1
        elif c == "r" and re.match(r'r#*"', src[i:i + 10]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'r(#*)"', src[i:])
            end = src.find('"' + m.group(1), i + len(m.group(0)))
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * src.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""' + "\n" * src.count("\n", i, j))
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{..}') or a lifetime ('a): only literals are dropped.
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", src[i:])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_use_tree(text):
    """Expand a use tree (`a::{b, c::{d as e, *}}`) into [(segments, alias)]."""
    text = re.sub(r"\s+", "", text)
    pos = 0

    def tree(prefix):
        nonlocal pos
        results = []
        segs = list(prefix)
        while True:
            if text.startswith("{", pos):
                pos += 1
                while not text.startswith("}", pos):
                    results += tree(segs)
                    if text.startswith(",", pos):
                        pos += 1
                pos += 1
                return results
            m = re.match(r"(\*|[A-Za-z_][A-Za-z0-9_]*)", text[pos:])
            if not m:
                return results
            segs.append(m.group(1))
            pos += len(m.group(1))
            if text.startswith("::", pos):
                pos += 2
                continue
            alias = None
            m = re.match(r"as([A-Za-z_][A-Za-z0-9_]*)", text[pos:])
            if m:
                alias = m.group(1)
                pos += len(m.group(0))
            results.append((segs, alias))
            return results

    return tree([])


USE = re.compile(r"\b(pub(\([a-z: ]+\))?\s+)?use\s+([^;]+);")
PATH = re.compile(r"(?<![A-Za-z0-9_:])([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
INLINE_MOD = re.compile(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{")


def inline_mod_at(src):
    """For each character offset, the inline `mod x { .. }` names enclosing it (as a list of
    (start, end, names))."""
    spans = []
    for m in INLINE_MOD.finditer(src):
        depth, i = 1, m.end()
        while i < len(src) and depth:
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        spans.append((m.start(), i, m.group(1)))
    return spans


def absolute(segs, here, mods, scope=None):
    """A path's segments made absolute from module `here`: `crate::`, `super::`, `self::`, a
    child module's name, or a name `use` brought into scope (None for external crates)."""
    segs = list(segs)
    if tuple(here) + (segs[0],) in mods:
        return list(here) + segs
    if scope and segs[0] in scope and len(segs) > 1:
        return list(scope[segs[0]]) + segs[1:]
    if segs[0] == "crate":
        return segs[1:]
    if segs[0] in ("self", "super"):
        base = list(here)
        while segs and segs[0] in ("self", "super"):
            if segs.pop(0) == "super":
                base = base[:-1]
        return base + segs
    return None


def main():
    show = "--graph" in sys.argv
    mods = module_files()
    texts = {}
    reexports = {}  # module -> {name: absolute path}
    globs = {}  # module -> [absolute module path]
    uses = {}  # module -> [absolute paths]
    for mod, path in mods.items():
        with open(path, encoding="utf-8") as f:
            src = strip(f.read())
        texts[mod] = src
        spans = inline_mod_at(src)
        found = []
        for m in USE.finditer(src):
            inner = tuple(n for s, e, n in spans if s < m.start() < e)
            here = mod + inner
            for segs, alias in parse_use_tree(m.group(3)):
                if segs and segs[0] == "self" and len(segs) == 1:
                    continue
                full = absolute(segs, here, mods)
                if full is None:
                    continue
                if m.group(1) and not inner:
                    if full[-1] == "*":
                        globs.setdefault(mod, []).append(full[:-1])
                    else:
                        reexports.setdefault(mod, {})[alias or full[-1]] = full
                found.append(full[:-1] if full[-1] == "*" else full)
        # Names `use` brought into this file's scope, for paths such as `conv::Tile`.
        scope = {}
        for m in USE.finditer(src):
            for segs, alias in parse_use_tree(m.group(3)):
                full = absolute(segs, mod, mods)
                if full is not None and full[-1] not in ("*", "self"):
                    scope[alias or full[-1]] = full
                elif full is not None and full[-1] == "self":
                    scope[alias or full[-2]] = full[:-1]
        rest = USE.sub(";", src)
        for m in PATH.finditer(rest):
            inner = tuple(n for s, e, n in spans if s < m.start() < e)
            found.append(absolute(m.group(1).split("::"), mod + inner, mods, scope))
        uses[mod] = found

    def resolve(path, seen=0):
        """The module (file) that defines what `path` names."""
        path = list(path)
        best = ()
        for k in range(len(path), -1, -1):
            if tuple(path[:k]) in mods:
                best = tuple(path[:k])
                break
        rest = path[len(best):]
        if rest and seen < 16:
            target = reexports.get(best, {}).get(rest[0])
            if target is not None and tuple(target[:len(best)]) != tuple(path[:len(best) + 1]):
                return resolve(list(target) + rest[1:], seen + 1)
            for g in globs.get(best, []):
                r = resolve(list(g) + rest, seen + 1)
                if r != tuple(g):
                    return r
        return best

    edges = set()
    for mod, found in uses.items():
        if mod == ():
            continue
        for p in found:
            if p is None:
                continue
            t = resolve(p)
            if t != mod and t != ():
                edges.add((mod, t))

    # Lift every edge to the level where the two modules part.
    levels = {}
    for a, b in edges:
        k = 0
        while k < min(len(a), len(b)) and a[k] == b[k]:
            k += 1
        parent = a[:k]
        sa = a[k] if len(a) > k else "(mod)"
        sb = b[k] if len(b) > k else "(mod)"
        if sa != sb:
            levels.setdefault(parent, {}).setdefault(sa, {}).setdefault(sb, []).append((a, b))

    circles = []
    for parent, graph in sorted(levels.items()):
        name = "::".join(("crate",) + parent)
        if show:
            for sa in sorted(graph):
                print(f"{name}: {sa} -> {', '.join(sorted(graph[sa]))}")
        for scc in strongly_connected(graph):
            if len(scc) > 1:
                circles.append((name, scc, graph))

    allowed = [(n, c, g) for n, c, g in circles if (n, tuple(sorted(c))) in ALLOWED]
    circles = [(n, c, g) for n, c, g in circles if (n, tuple(sorted(c))) not in ALLOWED]
    for name, scc, _ in allowed:
        print(f"known circle in {name}: {' <-> '.join(sorted(scc))} ({ALLOWED[(name, tuple(sorted(scc)))]})")
    for name, scc, graph in circles:
        print(f"import circle in {name}: {' <-> '.join(sorted(scc))}")
        for sa in sorted(scc):
            for sb in sorted(graph.get(sa, {})):
                if sb in scc:
                    files = sorted({"::".join(a) + " -> " + "::".join(b) for a, b in graph[sa][sb]})
                    print(f"  {sa} -> {sb}: {'; '.join(files[:4])}{' ...' if len(files) > 4 else ''}")
    if circles:
        print(f"{len(circles)} import circle(s): imports must run one way")
        return 1
    print(f"no import circles ({len(mods)} modules, {len(edges)} edges)")
    return 0


def strongly_connected(graph):
    """Tarjan's strongly connected components of {node: {node: ..}}."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    nodes = set(graph) | {b for a in graph for b in graph[a]}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
