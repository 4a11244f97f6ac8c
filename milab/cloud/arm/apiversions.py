"""Every published api-version of the resource types the emulator knows, from one source.

The sources are the Azure REST API specifications, as `Azure/bicep-types-az
<https://github.com/Azure/bicep-types-az>`_ generates them: one folder per provider namespace
and api-version (``generated/<service>/<namespace>/<api-version>/types.md``) whose
``## Resource <Type>@<api-version>`` lines name every resource type that version defines.
``api_versions.json`` next to this module is made from such a checkout by::

    python -m milab.cloud.arm.apiversions /path/to/bicep-types-az   # a work tree or a git dir

which also records, per provider namespace, every api-version the installed Azure SDK
management packages (``azure-mgmt-*``, in this interpreter and in the Azure CLI's ``.venv-az``)
send: SDKs are generated from the same specifications and are sometimes newer than the
bicep-types snapshot. The file records the commit and the packages it was made from.
Nothing here is kept by hand: to accept a new api-version, regenerate the file (a test fails
when an installed SDK sends a version the file does not know). :func:`versions` is what the catalogue asks for a type;
a type the file does not list (the emulator's own routes) keeps the versions its module names.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("api_versions.json")

# The provider namespaces the pages and the Azure CLI's commands for them reach.
NAMESPACES = (
    "Microsoft.Authorization", "Microsoft.Compute", "Microsoft.ContainerInstance", "Microsoft.DataLakeStore",
    "Microsoft.DocumentDB", "Microsoft.KeyVault", "Microsoft.ManagedIdentity", "Microsoft.Network",
    "Microsoft.Resources", "Microsoft.Sql", "Microsoft.Storage", "Microsoft.Web",
)

_RESOURCE_LINE = re.compile(r"^## Resource (?P<type>[\w.]+(?:/[\w.]+)+)@(?P<version>\d{4}-\d{2}-\d{2}[\w.-]*)")


# azure-mgmt-<package> -> the provider namespace it calls
SDK_PACKAGES = {
    "authorization": "Microsoft.Authorization", "compute": "Microsoft.Compute",
    "containerinstance": "Microsoft.ContainerInstance", "cosmosdb": "Microsoft.DocumentDB",
    "datalake/store": "Microsoft.DataLakeStore", "keyvault": "Microsoft.KeyVault",
    "msi": "Microsoft.ManagedIdentity", "network": "Microsoft.Network",
    "resource/resources": "Microsoft.Resources", "resource/subscriptions": "Microsoft.Resources",
    "resource/deployments": "Microsoft.Resources",
    "sql": "Microsoft.Sql", "storage": "Microsoft.Storage", "web": "Microsoft.Web",
}


@lru_cache(maxsize=1)
def _doc() -> dict:
    try:
        return json.loads(DATA.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, ...]]:
    return {t.lower(): tuple(v) for t, v in _doc().get("types", {}).items()}


def sdk_versions(namespace: str) -> tuple[str, ...]:
    """The api-versions the recorded azure-mgmt-* packages send to a namespace."""
    sdk = {k.lower(): v for k, v in _doc().get("sdk", {}).items()}
    return tuple(sdk.get(namespace.lower(), ()))


def versions(type_name: str) -> tuple[str, ...] | None:
    """The published api-versions of a resource type (oldest first), or None when the
    specifications define no such type."""
    return _table().get(type_name.lower())


# Spec names of types the emulator addresses under another path.
_SPEC_NAME = {"microsoft.resources/subscriptions/resourcegroups": "microsoft.resources/resourcegroups"}


def accepted(type_name: str, declared: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """What the emulator accepts for a type: every published version, plus the versions its
    module declares that ARM accepts beyond the specifications (Microsoft.Resources and
    Microsoft.Authorization answer older versions the specifications never listed).
    ``None`` (any well-formed version) stays ``None``."""
    if declared is None:
        return None
    published = versions(_SPEC_NAME.get(type_name.lower(), type_name)) or ()
    sent = sdk_versions(type_name.split("/", 1)[0])
    return tuple(sorted(set(published) | set(sent) | set(declared)))


def generic(type_name: str) -> tuple[str, ...] | None:
    """The versions of a type the emulator stores generically: what the specifications publish
    and the SDKs send, or None (any well-formed version) when the specifications define no such type."""
    published = versions(type_name)
    if published is None:
        return None
    return tuple(sorted(set(published) | set(sdk_versions(type_name.split("/", 1)[0]))))


def namespace_versions(namespace: str) -> tuple[str, ...]:
    """Every api-version any type of a provider namespace was published in (oldest first)."""
    prefix = namespace.lower() + "/"
    found = {v for t, vs in _table().items() if t.startswith(prefix) for v in vs}
    return tuple(sorted(found))


def types_of(namespace: str) -> dict[str, tuple[str, ...]]:
    """The namespace's resource types (as the specifications spell them) and their versions."""
    prefix = namespace.lower() + "/"
    return {t: tuple(v) for t, v in _doc().get("types", {}).items() if t.lower().startswith(prefix)}


def source() -> dict:
    """Where the table was made from (repository and commit, SDK packages)."""
    return _doc().get("source", {})


# ------------------------------------------------------------------------------ generation

def _git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["git", "--git-dir" if (repo / "HEAD").is_file() else "-C", str(repo), *args],
                          input=input, capture_output=True, check=True).stdout


def _read_types_md(repo: Path) -> tuple[str, dict[str, list[str]]]:
    """(commit, {"Namespace/type": [versions]}) from a bicep-types-az checkout (work tree or git dir)."""
    wanted = {n.lower() for n in NAMESPACES}
    commit = _git(repo, "rev-parse", "HEAD").decode().strip()
    names = _git(repo, "ls-tree", "-r", "--name-only", "HEAD", "generated").decode().splitlines()
    paths = [p for p in names if p.endswith("/types.md") and len(p.split("/")) == 5
             and p.split("/")[2] in wanted]
    blobs = _git(repo, "cat-file", "--batch", input="".join(f"HEAD:{p}\n" for p in paths).encode())
    found: dict[str, set[str]] = {}
    spelling: dict[str, str] = {}
    pos = 0
    for _ in paths:
        header_end = blobs.index(b"\n", pos)
        header = blobs[pos:header_end].split()
        if len(header) < 3 or header[1] == b"missing":
            pos = header_end + 1
            continue
        size = int(header[2])
        text = blobs[header_end + 1:header_end + 1 + size].decode("utf-8", "replace")
        pos = header_end + 1 + size + 1
        for line in text.splitlines():
            m = _RESOURCE_LINE.match(line)
            if not m or m["type"].split("/")[0].lower() not in wanted:
                continue
            key = m["type"].lower()
            if m["version"] >= spelling.get(key, ("", ""))[0]:
                spelling[key] = (m["version"], m["type"])  # as the newest version spells it
            found.setdefault(key, set()).add(m["version"])
    return commit, {spelling[k][1]: sorted(v) for k, v in sorted(found.items())}


_SDK_VERSION = re.compile(r"""(?:"api-version"|'api-version'|"api_version"|'api_version')\s*,\s*["'](\d{4}-\d{2}-\d{2}(?:-[a-z]+)?)["']""")
_MULTI_API_DIR = re.compile(r"^v(\d{4})_(\d{2})_(\d{2})(_[a-z]+)?$")


def read_sdk_versions(site_packages: list[Path]) -> tuple[dict[str, list[str]], list[str]]:
    """({namespace: [versions]}, [package versions seen]) from installed azure-mgmt-* packages:
    the api-version literals their operations send, and their multi-API version folders."""
    found: dict[str, set[str]] = {}
    seen: list[str] = []
    for sp in site_packages:
        for pkg, ns in SDK_PACKAGES.items():
            root = sp / "azure" / "mgmt" / pkg
            if not root.is_dir():
                continue
            for dist in sp.glob(f"azure_mgmt_{pkg.split('/')[0]}-*.dist-info"):
                seen.append(f"{sp.parent.parent.parent.name}: {dist.name[:-len('.dist-info')]}")
            vs = found.setdefault(ns, set())
            for child in root.iterdir():
                m = _MULTI_API_DIR.match(child.name)
                if child.is_dir() and m:
                    vs.add(f"{m[1]}-{m[2]}-{m[3]}" + (m[4].replace("_", "-") if m[4] else ""))
            for py in root.rglob("*.py"):
                vs.update(_SDK_VERSION.findall(py.read_text(encoding="utf-8", errors="replace")))
    return {ns: sorted(v) for ns, v in sorted(found.items())}, sorted(set(seen))


def _default_site_packages() -> list[Path]:
    import sysconfig
    out = [Path(sysconfig.get_paths()["purelib"])]
    repo = Path(__file__).resolve().parents[3]
    out += sorted(repo.glob(".venv-az/lib/python3*/site-packages"))
    return out


def _dump(doc: dict) -> str:
    """JSON with one type (or namespace) per line: small, and its diffs read line by line."""
    parts = []
    for key, value in doc.items():
        if isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
            inner = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            parts.append(f"{json.dumps(key)}: {{\n{inner}\n}}")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m milab.cloud.arm.apiversions",
                                description="Regenerate api_versions.json from a bicep-types-az checkout "
                                            "and the installed azure-mgmt-* packages.")
    p.add_argument("checkout", nargs="?", help="a clone of https://github.com/Azure/bicep-types-az (work tree or "
                                               "git dir); without it, only the SDK part is made again (--sdk-only)")
    p.add_argument("--sdk-only", action="store_true",
                   help="keep the types of the table and read again only what the installed SDKs send")
    p.add_argument("--site-packages", action="append", type=Path, metavar="DIR",
                   help="site-packages holding azure-mgmt-* packages (default: this interpreter's and .venv-az's)")
    a = p.parse_args(argv)
    if a.sdk_only == bool(a.checkout):
        p.error("give a bicep-types-az checkout, or --sdk-only")
    if a.sdk_only:
        old = json.loads(DATA.read_text(encoding="utf-8"))
        commit, types = old["source"]["commit"], old["types"]
    else:
        commit, types = _read_types_md(Path(a.checkout))
    sdk, packages = read_sdk_versions(a.site_packages or _default_site_packages())
    doc = {"source": {"repository": "https://github.com/Azure/bicep-types-az", "commit": commit,
                      "sdk_packages": packages, "made_by": "python -m milab.cloud.arm.apiversions"},
           "namespaces": list(NAMESPACES), "sdk": sdk, "types": types}
    DATA.write_text(_dump(doc), encoding="utf-8")
    print(f"{DATA}: {len(types)} resource types from {commit[:12]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
