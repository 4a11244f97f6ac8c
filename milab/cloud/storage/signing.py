"""Storage signatures computed with an account key: Shared Key request signing, service SAS
and account SAS.

Everything here follows the Storage REST reference ("Authorize with Shared Key", "Create a
service SAS", "Create an account SAS"); Azurite verifies the results, which the project's
tests check. Keys are base64 strings as ``listKeys`` returns them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Mapping
from urllib.parse import parse_qsl, quote, unquote

# The signedVersion (sv) a listServiceSas / listAccountSas answer carries. The 2016-12-01 and
# 2017-06-01 pages show sv=2015-04-05; current api-versions sign with a current version.
SAS_VERSION_OLD = "2015-04-05"
SAS_VERSION_NEW = "2022-11-02"


def sas_version_for(api_version: str) -> str:
    return SAS_VERSION_OLD if api_version < "2018-11-01" else SAS_VERSION_NEW


@lru_cache(maxsize=256)
def _key_bytes(key_b64: str) -> bytes:
    return base64.b64decode(key_b64)


def hmac_b64(key_b64: str, text: str) -> str:
    digest = hmac.new(_key_bytes(key_b64), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# -- Shared Key ------------------------------------------------------------------------------
_SIGNED_HEADERS = ("content-encoding", "content-language", "content-length", "content-md5", "content-type",
                   "date", "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range")


def shared_key_string_to_sign(method: str, raw_path: str, headers: Mapping[str, str], account: str) -> str:
    """The Shared Key (2009-09-19 and later) string to sign of a Blob request.

    ``raw_path`` is the request target as sent (path and query, percent-encoded)."""
    h = {k.lower(): v for k, v in headers.items()}
    parts = [method.upper()]
    for name in _SIGNED_HEADERS:
        value = h.get(name, "")
        if name == "content-length" and value == "0":
            value = ""
        parts.append(value)
    canon_headers = "".join(f"{k}:{h[k].strip()}\n" for k in sorted(k for k in h if k.startswith("x-ms-")))
    path, _, query = raw_path.partition("?")
    resource = f"/{account}{path or '/'}"
    params: dict[str, list[str]] = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        params.setdefault(k.lower(), []).append(v)
    for k in sorted(params):
        resource += f"\n{k}:{','.join(sorted(params[k]))}"
    return "\n".join(parts) + "\n" + canon_headers + resource


def shared_key_authorization(method: str, raw_path: str, headers: Mapping[str, str], account: str,
                             key_b64: str) -> str:
    sig = hmac_b64(key_b64, shared_key_string_to_sign(method, raw_path, headers, account))
    return f"SharedKey {account}:{sig}"


# -- service SAS (Blob) ------------------------------------------------------------------------
class SasError(ValueError):
    """A listServiceSas / listAccountSas body the resource provider refuses."""


def service_sas(account: str, key_b64: str, params: Mapping[str, str], version: str) -> str:
    """A Blob service SAS query string (``sv=...&sig=...``) for the ``listServiceSas`` parameters.

    ``params`` uses the RP's names: canonicalizedResource (``/blob/{account}/{container}[/{blob}]``),
    signedResource (b, c, bs, bv), signedPermission, signedExpiry, signedStart, signedIp,
    signedProtocol, signedIdentifier, rscc/rscd/rsce/rscl/rsct (cache control ... content type)."""
    cr = params.get("canonicalizedResource") or ""
    segs = cr.split("/")
    if len(segs) < 4 or segs[0] != "" or segs[1] != "blob" or segs[2] != account or not segs[3]:
        raise SasError(f"The canonicalizedResource '{cr}' is not '/blob/{account}/<container>[/<blob>]'.")
    sr = params.get("signedResource") or ""
    if sr not in ("b", "c", "bs", "bv"):
        raise SasError(f"The signedResource '{sr}' is not one of b, c, bs, bv (only blob service SAS "
                       f"are emulated).")
    if sr == "c" and len(segs) != 4:
        raise SasError("A container SAS (signedResource 'c') needs a canonicalizedResource of a container.")
    if sr != "c" and len(segs) < 5:
        raise SasError("A blob SAS needs a canonicalizedResource of a blob.")
    sp = params.get("signedPermission") or ""
    se = params.get("signedExpiry") or ""
    si = params.get("signedIdentifier") or ""
    if not si and (not sp or not se):
        raise SasError("signedPermission and signedExpiry are required unless signedIdentifier is given.")
    fields = {
        "sp": sp, "st": params.get("signedStart") or "", "se": se, "si": si,
        "sip": params.get("signedIp") or "", "spr": params.get("signedProtocol") or "",
        "rscc": params.get("rscc") or params.get("cacheControl") or "",
        "rscd": params.get("rscd") or params.get("contentDisposition") or "",
        "rsce": params.get("rsce") or params.get("contentEncoding") or "",
        "rscl": params.get("rscl") or params.get("contentLanguage") or "",
        "rsct": params.get("rsct") or params.get("contentType") or "",
    }
    if version >= "2018-11-09":
        sts = [fields["sp"], fields["st"], fields["se"], cr, fields["si"], fields["sip"], fields["spr"], version,
               sr, "",  # snapshot time
               ]
        if version >= "2020-12-06":
            sts.append("")  # encryption scope
        sts += [fields["rscc"], fields["rscd"], fields["rsce"], fields["rscl"], fields["rsct"]]
    else:
        sts = [fields["sp"], fields["st"], fields["se"], cr, fields["si"], fields["sip"], fields["spr"], version,
               fields["rscc"], fields["rscd"], fields["rsce"], fields["rscl"], fields["rsct"]]
    sig = hmac_b64(key_b64, "\n".join(sts))
    out = [("sv", version), ("sr", sr)]
    for name in ("spr", "st", "se", "sp", "sip", "si", "rscc", "rscd", "rsce", "rscl", "rsct"):
        if fields[name]:
            out.append((name, fields[name]))
    out.append(("sig", sig))
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in out)


def account_sas(account: str, key_b64: str, params: Mapping[str, str], version: str) -> str:
    """An account SAS query string for the ``listAccountSas`` parameters (signedServices,
    signedResourceTypes, signedPermission, signedExpiry, signedStart, signedIp, signedProtocol)."""
    ss = params.get("signedServices") or ""
    srt = params.get("signedResourceTypes") or ""
    sp = params.get("signedPermission") or ""
    se = params.get("signedExpiry") or ""
    if not ss or not srt or not sp or not se:
        raise SasError("signedServices, signedResourceTypes, signedPermission and signedExpiry are required.")
    st = params.get("signedStart") or ""
    sip = params.get("signedIp") or ""
    spr = params.get("signedProtocol") or ""
    sts = [account, sp, ss, srt, st, se, sip, spr, version]
    if version >= "2020-12-06":
        sts.append("")  # encryption scope
    sig = hmac_b64(key_b64, "\n".join(sts) + "\n")
    out = [("sv", version), ("ss", ss), ("srt", srt), ("sp", sp), ("se", se)]
    if st:
        out.insert(4, ("st", st))
    if sip:
        out.append(("sip", sip))
    if spr:
        out.append(("spr", spr))
    out.append(("sig", sig))
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in out)


def query_has_sas(query: str) -> bool:
    return any(k.lower() == "sig" for k, _ in parse_qsl(query, keep_blank_values=True))


__all__ = ["SAS_VERSION_NEW", "SAS_VERSION_OLD", "SasError", "account_sas", "hmac_b64", "query_has_sas",
           "sas_version_for", "service_sas", "shared_key_authorization", "shared_key_string_to_sign", "unquote"]
