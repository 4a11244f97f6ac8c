"""A hierarchical namespace: directories and files with POSIX ACLs, shared by Data Lake
Storage Gen1 (which keeps the bytes here too) and Gen2 (whose bytes live in the Blob engine).

Paths are absolute, ``/``-separated and compared exactly (case-sensitive, as both services
are); ``/`` is the root directory, which always exists. The tree is a plain JSON-able dict
kept in the account's stored resource, so a state directory keeps it across restarts.
:meth:`Tree.allowed` is the one access decision: execute on every directory above the item,
then the operation's bits on the item (or on its parent, for creating and deleting).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .posix import EXECUTE, Item

DIRECTORY, FILE = "DIRECTORY", "FILE"


def now_ms() -> int:
    return int(time.time() * 1000)


class PathError(ValueError):
    """A path that is not a valid item path (empty segments, ``.`` or ``..``, control characters)."""


def normalise(path: str) -> str:
    parts = [p for p in (path or "").split("/") if p != ""]
    for p in parts:
        if p in (".", "..") or any(ord(c) < 32 or c == "\\" for c in p):
            raise PathError(f"The path segment '{p}' is not allowed.")
    return "/" + "/".join(parts)


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def name_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


@dataclass
class Caller:
    """Who is asking: object id, group ids, and whether the service treats it as a super-user."""
    oid: str
    groups: set[str]
    superuser: bool = False


class Tree:
    def __init__(self, doc: dict):
        self.doc = doc  # path -> node (mutated in place: it is the stored record)

    @classmethod
    def new(cls, owner: str, group: str, root_mode: int) -> "Tree":
        t = cls({})
        t.doc["/"] = {"type": DIRECTORY, "acl": Item(owner, group, root_mode).to_json(), "length": 0,
                      "mtime": now_ms(), "atime": now_ms()}
        return t

    # -- lookups ------------------------------------------------------------------------------
    def node(self, path: str) -> dict | None:
        return self.doc.get(path)

    def item(self, path: str) -> Item:
        return Item.from_json(self.doc[path]["acl"])

    def save_item(self, path: str, item: Item) -> None:
        self.doc[path]["acl"] = item.to_json()

    def is_dir(self, path: str) -> bool:
        n = self.node(path)
        return n is not None and n["type"] == DIRECTORY

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(p for p in self.doc if p != "/" and p.startswith(prefix) and "/" not in p[len(prefix):])

    def descendants(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted((p for p in self.doc if p != "/" and p.startswith(prefix)), key=len, reverse=True)

    # -- the access decision ------------------------------------------------------------------------
    def allowed(self, caller: Caller, path: str, want: int, *, on_parent: bool = False) -> bool:
        """Execute on every existing directory above ``path`` (the parent's too when ``on_parent``
        names the parent as the target), then ``want`` on the item or on its parent."""
        if caller.superuser:
            return True
        target = parent_of(path) if on_parent else path
        walk = [] if target == "/" else ["/"]
        parts = [p for p in target.split("/") if p]
        for i in range(1, len(parts)):
            walk.append("/" + "/".join(parts[:i]))
        for d in walk:
            node = self.node(d)
            if node is None:
                break  # the rest does not exist: the operation's own check answers
            if not self.item(d).permits(caller.oid, caller.groups, EXECUTE):
                return False
        node = self.node(target)
        if node is None:
            return True  # nothing there to refuse on; the operation reports it missing
        return self.item(target).permits(caller.oid, caller.groups, want)

    # -- changes ------------------------------------------------------------------------------------
    def add(self, path: str, kind: str, creator: str, *, length: int = 0, mode: int | None = None,
            umask: int | None = None) -> dict:
        """A new item under an existing directory, with the ACL it inherits."""
        parent = self.item(parent_of(path))
        item = parent.child(creator, kind == DIRECTORY, mode=mode, **({} if umask is None else {"umask": umask}))
        node = {"type": kind, "acl": item.to_json(), "length": length, "mtime": now_ms(), "atime": now_ms()}
        self.doc[path] = node
        self.touch(parent_of(path))
        return node

    def mkdirs(self, path: str, creator: str, *, umask: int | None = None) -> list[str]:
        """Create every missing directory down to ``path``; returns the ones made."""
        made = []
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            p = "/" + "/".join(parts[:i])
            if p not in self.doc:
                self.add(p, DIRECTORY, creator, umask=umask)
                made.append(p)
        return made

    def missing_parents(self, path: str) -> list[str]:
        parts = [p for p in parent_of(path).split("/") if p]
        return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)
                if "/" + "/".join(parts[:i]) not in self.doc]

    def remove(self, path: str) -> list[str]:
        """Delete an item (and everything below it); returns the removed paths."""
        gone = self.descendants(path) + [path]
        for p in gone:
            self.doc.pop(p, None)
        self.touch(parent_of(path))
        return gone

    def move(self, source: str, destination: str) -> None:
        moved = {p: self.doc.pop(p) for p in [source] + self.descendants(source)}
        for p, node in moved.items():
            self.doc[destination + p[len(source):]] = node
        self.touch(parent_of(source))
        self.touch(parent_of(destination))

    def touch(self, path: str) -> None:
        if path in self.doc:
            self.doc[path]["mtime"] = now_ms()
