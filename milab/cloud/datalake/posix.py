"""POSIX access control lists as Data Lake Storage (Gen1 and Gen2) evaluate them.

An item (file or directory) has an owning user, an owning group, permission bits for owner,
owning group and others, and optionally *access* ACL entries for named users and groups (then
a ``mask`` bounds every named entry and the owning group) and, on directories, *default*
entries that new children inherit. The rules are the ones Microsoft documents for both
generations ("Access control in Azure Data Lake Storage Gen1" / "Access control lists (ACLs)
in Azure Data Lake Storage"):

* **Who is asking**: the owner gets the owner bits; else a named-user entry for the caller
  applies (masked); else if the caller is in the owning group or a named group, the request is
  allowed when *any* of those group entries (masked) grants it; else the "other" bits.
* **Traversal**: every directory on the way to an item needs execute (``--x``) for the caller.
* **Operations**: read a file ``r--`` on it; write/append ``-w-`` on it; list a directory
  ``r-x`` on it; create or delete a child ``-wx`` on the parent directory.
* **New items** (umask ``007``, a constant for both generations): owner is the creator, owning
  group is the parent's, permissions ``0666`` (files) / ``0777`` (directories) with the umask
  applied; when the parent has default entries the child's access ACL is the parent's default
  ACL (its ``mask`` or group bits bounded by the requested mode), and a new directory also
  inherits the parent's default ACL as its own default ACL.
* **Super-users** (Gen1: the account's Owner role; Gen2: Storage Blob Data Owner or Shared Key)
  bypass every check; only an item's owner or a super-user changes its ACL or permissions.

Entries use the text form both services accept: ``[default:]user|group|mask|other:[id]:rwx``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

UMASK = 0o007
_ENTRY = re.compile(r"^(default:)?(user|group|mask|other):([^:]*):([r-][w-][x-])$")
_OCTAL = re.compile(r"^[0-7]{3,4}$")
_SYMBOLIC = re.compile(r"^[r-][w-][xtT-][r-][w-][x-][r-][w-][xtT-]\+?$")


class AclError(ValueError):
    """An ACL spec or permission string that cannot be parsed."""


def bits(perm: str) -> int:
    """``rwx`` / ``r-x`` ... to 0-7."""
    return (4 if perm[0] == "r" else 0) | (2 if perm[1] == "w" else 0) | (1 if perm[2] in "xtT" else 0)


def rwx(value: int) -> str:
    return ("r" if value & 4 else "-") + ("w" if value & 2 else "-") + ("x" if value & 1 else "-")


def parse_mode(text: str) -> int:
    """``770`` / ``0750`` / ``rwxr-x---`` to a 9-bit mode (sticky bit ignored)."""
    text = (text or "").strip()
    if _OCTAL.match(text):
        return int(text, 8) & 0o777
    if _SYMBOLIC.match(text):
        return (bits(text[0:3]) << 6) | (bits(text[3:6]) << 3) | bits(text[6:9])
    raise AclError(f"The permission '{text}' is not an octal or symbolic POSIX permission.")


@dataclass(frozen=True)
class Entry:
    default: bool
    kind: str  # user | group | mask | other
    id: str  # object id for named entries, "" for the owner/owning group/mask/other
    perm: int

    def text(self) -> str:
        return f"{'default:' if self.default else ''}{self.kind}:{self.id}:{rwx(self.perm)}"


def parse_acl(spec: str, *, allow_remove: bool = False) -> list[Entry]:
    """An ACL spec (comma-separated entries). With ``allow_remove`` the permission part may be
    absent (REMOVEACLENTRIES names entries without permissions)."""
    out: list[Entry] = []
    for raw in (spec or "").split(","):
        raw = raw.strip()
        if not raw:
            continue
        m = _ENTRY.match(raw)
        if m is None and allow_remove:
            m2 = re.match(r"^(default:)?(user|group|mask|other):([^:]*):?$", raw)
            if m2:
                out.append(Entry(bool(m2.group(1)), m2.group(2), m2.group(3), 0))
                continue
        if m is None:
            raise AclError(f"The ACL entry '{raw}' is not of the form [default:]user|group|mask|other:[id]:rwx.")
        default, kind, ident, perm = bool(m.group(1)), m.group(2), m.group(3), m.group(4)
        if kind in ("mask", "other") and ident:
            raise AclError(f"The ACL entry '{raw}' names an id, which {kind} entries cannot have.")
        out.append(Entry(default, kind, ident.lower(), bits(perm)))
    if not out:
        raise AclError("The ACL spec is empty.")
    return out


@dataclass
class Item:
    """The access-control part of one file or directory."""
    owner: str
    group: str
    mode: int  # 9 bits: owner, owning group (the mask when named entries exist), other
    acl: list[Entry] = field(default_factory=list)  # named user/group entries and the mask (access)
    default_acl: list[Entry] = field(default_factory=list)  # directories only: everything default:

    # -- persistence -------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"owner": self.owner, "group": self.group, "mode": self.mode,
                "acl": [e.text() for e in self.acl], "default": [e.text() for e in self.default_acl]}

    @classmethod
    def from_json(cls, doc: dict) -> "Item":
        return cls(doc["owner"], doc["group"], int(doc["mode"]),
                   parse_acl(",".join(doc.get("acl") or [])) if doc.get("acl") else [],
                   parse_acl(",".join(doc.get("default") or [])) if doc.get("default") else [])

    # -- what the services report -------------------------------------------------------------
    @property
    def extended(self) -> bool:
        return any(e.kind in ("user", "group") and e.id for e in self.acl)

    def mask(self) -> int:
        m = next((e.perm for e in self.acl if e.kind == "mask"), None)
        return m if m is not None else (self.mode >> 3) & 7

    def octal(self) -> str:
        return f"{self.mode:o}".rjust(3, "0")

    def symbolic(self) -> str:
        return rwx(self.mode >> 6) + rwx((self.mode >> 3) & 7) + rwx(self.mode & 7) + ("+" if self.extended else "")

    def owning_group_perm(self) -> int:
        """The owning group's own bits: kept in an explicit group:: entry once a mask exists."""
        own = next((e.perm for e in self.acl if e.kind == "group" and not e.id), None)
        return own if own is not None else (self.mode >> 3) & 7

    def entries(self) -> list[str]:
        """Every entry, base ones included, access then default (GETACLSTATUS / x-ms-acl)."""
        out = [f"user::{rwx(self.mode >> 6)}"]
        out += [e.text() for e in self.acl if e.kind == "user" and e.id]
        out.append(f"group::{rwx(self.owning_group_perm())}")
        out += [e.text() for e in self.acl if e.kind == "group" and e.id]
        if self.extended or any(e.kind == "mask" for e in self.acl):
            out.append(f"mask::{rwx(self.mask())}")
        out.append(f"other::{rwx(self.mode & 7)}")
        return out + [e.text() for e in self.default_acl]

    # -- changes --------------------------------------------------------------------------------
    def set_acl(self, entries: list[Entry]) -> None:
        """SETACL / x-ms-acl: replace the whole ACL, access and default entries alike (the base
        user::, group:: and other:: entries are required, as HDFS's setAcl requires them)."""
        access = [e for e in entries if not e.default]
        default = [e for e in entries if e.default]
        base = {e.kind for e in access if not e.id}
        if not {"user", "group", "other"} <= base:
            raise AclError("Invalid ACL: the user::, group:: and other:: entries are required.")
        self._apply_access(access, replace=True)
        self.default_acl = _normalised_default(default, self)

    def modify(self, entries: list[Entry]) -> None:
        """MODIFYACLENTRIES: add or update the given entries, keep the others."""
        access = [e for e in entries if not e.default]
        default = [e for e in entries if e.default]
        if access:
            self._apply_access(access, replace=False)
        if default:
            keep = {(e.kind, e.id): e for e in self.default_acl}
            for e in default:
                keep[(e.kind, e.id)] = e
            self.default_acl = _normalised_default(list(keep.values()), self)

    def remove(self, entries: list[Entry]) -> None:
        """REMOVEACLENTRIES: drop the named entries (base entries cannot be removed)."""
        gone = {(e.default, e.kind, e.id) for e in entries if e.id}
        self.acl = [e for e in self.acl if (e.default, e.kind, e.id) not in gone]
        self.default_acl = [e for e in self.default_acl if (True, e.kind, e.id) not in gone]
        if not self.extended:
            self._drop_mask()

    def remove_default(self) -> None:
        self.default_acl = []

    def remove_all(self) -> None:
        self.acl = []
        self.default_acl = []

    def set_mode(self, mode: int) -> None:
        if self.extended:  # the group bits are the mask
            self.acl = [e for e in self.acl if e.kind != "mask"] + [Entry(False, "mask", "", (mode >> 3) & 7)]
        self.mode = mode & 0o777

    def _drop_mask(self) -> None:
        own = self.owning_group_perm()
        self.acl = [e for e in self.acl if e.kind not in ("mask",) and not (e.kind == "group" and not e.id)]
        self.mode = (self.mode & 0o707) | (own << 3)

    def _apply_access(self, entries: list[Entry], replace: bool) -> None:
        named = {} if replace else {(e.kind, e.id): e for e in self.acl if e.id}
        owner_bits, group_bits, other_bits = (self.mode >> 6) & 7, self.owning_group_perm(), self.mode & 7
        mask = None if replace else next((e.perm for e in self.acl if e.kind == "mask"), None)
        for e in entries:
            if e.kind == "user" and not e.id:
                owner_bits = e.perm
            elif e.kind == "group" and not e.id:
                group_bits = e.perm
            elif e.kind == "other":
                other_bits = e.perm
            elif e.kind == "mask":
                mask = e.perm
            else:
                named[(e.kind, e.id)] = e
        acl = list(named.values())
        if acl:
            if mask is None:  # the mask covers the owning group and every named entry
                mask = group_bits
                for e in acl:
                    mask |= e.perm
            acl += [Entry(False, "group", "", group_bits), Entry(False, "mask", "", mask)]
            self.mode = (owner_bits << 6) | (mask << 3) | other_bits
        else:
            self.mode = (owner_bits << 6) | (group_bits << 3) | other_bits
        self.acl = acl

    # -- decisions ------------------------------------------------------------------------------------
    def permits(self, caller: str, groups: set[str], want: int) -> bool:
        """May ``caller`` (an object id; ``groups``: the group ids it belongs to) do ``want``
        (an rwx bit set) on this item, by the POSIX evaluation order?"""
        caller = (caller or "").lower()
        groups = {g.lower() for g in groups}
        if caller and caller == self.owner.lower():
            return ((self.mode >> 6) & want) == want
        mask = self.mask() if self.extended else 7
        named = next((e for e in self.acl if e.kind == "user" and e.id == caller), None)
        if named is not None:
            return (named.perm & mask & want) == want
        group_entries = []
        if self.group.lower() in groups or (caller and self.group.lower() == caller):
            group_entries.append(self.owning_group_perm() & mask)
        group_entries += [e.perm & mask for e in self.acl if e.kind == "group" and e.id and e.id in groups]
        if group_entries:
            return any((p & want) == want for p in group_entries)
        return ((self.mode & 7) & want) == want

    def child(self, creator: str, directory: bool, *, mode: int | None = None, umask: int = UMASK) -> "Item":
        """The ACL of a new child of this directory: ``mode`` is the requested permission (0777
        for directories, 0666 for files unless given); without a default ACL on this directory the
        umask applies, with one the child inherits it (and the umask is not used)."""
        requested = (0o777 if directory else 0o666) if mode is None else mode & 0o777
        default = self.default_acl
        child = Item(owner=creator, group=self.group, mode=requested & ~umask)
        if not default:
            return child
        mode = requested
        base = {e.kind: e.perm for e in default if not e.id}
        named = [Entry(False, e.kind, e.id, e.perm) for e in default if e.id and e.kind in ("user", "group")]
        owner_bits = base.get("user", (mode >> 6) & 7) & (mode >> 6)
        group_bits = base.get("group", (mode >> 3) & 7)
        other_bits = base.get("other", mode & 7) & mode & 7
        mask = base.get("mask")
        if named:
            mask = (mask if mask is not None else group_bits | _union(named)) & ((mode >> 3) & 7)
            child.acl = named + [Entry(False, "group", "", group_bits), Entry(False, "mask", "", mask)]
            child.mode = (owner_bits << 6) | (mask << 3) | other_bits
        else:
            child.mode = (owner_bits << 6) | ((group_bits & (mode >> 3)) << 3) | other_bits
        if directory:
            child.default_acl = list(default)
        return child


def _union(entries: list[Entry]) -> int:
    out = 0
    for e in entries:
        out |= e.perm
    return out


def _normalised_default(entries: list[Entry], item: "Item") -> list[Entry]:
    """A default ACL has its base entries (copied from the access ACL's owner, owning group
    and other entries where missing, as setfacl and HDFS do) and, with named entries, a mask."""
    if not entries:
        return []
    kinds = {(e.kind, e.id): e for e in entries}
    for kind, perm in (("user", (item.mode >> 6) & 7), ("group", item.owning_group_perm()), ("other", item.mode & 7)):
        kinds.setdefault((kind, ""), Entry(True, kind, "", perm))
    named = [e for e in entries if e.id]
    if named and ("mask", "") not in kinds:
        group = kinds.get(("group", ""))
        m = (group.perm if group else 0) | _union(named)
        kinds[("mask", "")] = Entry(True, "mask", "", m)
    order = {"user": 0, "group": 2, "mask": 3, "other": 4}
    return sorted(kinds.values(), key=lambda e: (order[e.kind] + (1 if e.id and e.kind == "user" else 0)
                                                 + (0.5 if e.id and e.kind == "group" else 0), e.id))


READ, WRITE, EXECUTE = 4, 2, 1
