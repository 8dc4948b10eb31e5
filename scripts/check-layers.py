#!/usr/bin/env python3
"""Checks the origin's module structure (docs/architecture.md):

1. no cycle between its modules (a module is a file; `crate::a::b` paths in code, not in
   comments or test modules, are its dependencies);
2. no file of the domain layers (authn/, sessions/, identity/, tenants/, audit/, delivery/,
   store/, oauth/) mentions axum: only http/ knows the web framework.

Exits 1 with the offending modules listed.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "origin", "src")
DOMAIN = ("authn", "sessions", "identity", "tenants", "audit", "delivery", "store", "oauth")


def modules():
    found = {}
    for folder, _, names in os.walk(ROOT):
        for name in names:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts in (["lib"], ["main"]):
                continue
            with open(path, encoding="utf-8") as f:
                found["::".join(parts)] = (path, f.read())
    return found


def code_of(text):
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
    return "\n".join(l for l in text.split("\n") if not l.strip().startswith("//"))


def dependencies(mods):
    names = set(mods)

    def owner(path):
        parts = [p for p in path.split("::") if p and p != "self"]
        for i in range(len(parts), 0, -1):
            if "::".join(parts[:i]) in names:
                return "::".join(parts[:i])
        return None

    deps = {}
    for name, (_, text) in mods.items():
        code = code_of(text)
        targets = set()
        for path in re.findall(r"crate::((?:\w+::)*\w+)", code):
            targets.add(owner(path))
        for prefix, group in re.findall(r"crate::((?:\w+::)*)\{([^}]*)\}", code):
            for item in group.split(","):
                item = item.strip().split(" ")[0]
                if item:
                    targets.add(owner(prefix + item))
        deps[name] = {
            t for t in targets
            if t and t != name and not name.startswith(t + "::") and not t.startswith(name + "::")
        }
    return deps


def cycles(deps):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in deps[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    return out


def main():
    mods = modules()
    failed = False
    for comp in cycles(dependencies(mods)):
        failed = True
        print("module cycle:", " ↔ ".join(comp), file=sys.stderr)
    for name, (path, text) in sorted(mods.items()):
        if name.split("::")[0] in DOMAIN and re.search(r"\baxum\b", code_of(text)):
            failed = True
            print(f"{path}: domain code mentions axum (only http/ may)", file=sys.stderr)
    if failed:
        return 1
    print(f"{len(mods)} modules, no cycle, axum only under http/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
