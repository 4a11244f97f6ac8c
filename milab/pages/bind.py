"""Binding a page's placeholders and example names to real values.

Pages write the same thing many ways: ``<RESOURCE GROUP>``, ``<RESOURCE_GROUP>``,
``<name-of-existing-resource-group>``, ``<MyResourceGroup>`` and the example name
``myResourceGroup`` all mean the resource group the reader works in. Each spelling maps to a
*role* (:data:`ROLES`); each role has one value per procedure run: a fixture-made, uniquely named
resource (so parallel runs never collide), the subscription and tenant, or a value an earlier
step printed (the token ``az account get-access-token`` printed, the ``principalId`` of the
identity ``az identity create`` made). A placeholder no role covers, or whose role has no value
yet, stays unbound: that is a finding about the page, never a guess.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from ..docs.facts import find_placeholders, placeholder_key

# role -> placeholder spellings (compared by placeholder_key: lower-case letters and digits only)
ROLES: dict[str, tuple[str, ...]] = {
    "subscription_id": ("subscriptionid", "subscription", "subid", "mysubscriptionid", "yoursubscriptionid",
                        "subscriptionguid"),
    "tenant_id": ("tenantid", "tenant", "objectidofthetenant", "directoryid"),
    "resource_group": ("resourcegroup", "resourcegroupname", "rg", "rgname", "nameofexistingresourcegroup",
                       "myresourcegroup", "resourcegroupname", "yourresourcegroup", "myresourcegroupname"),
    "location": ("location", "region", "azureregion"),
    "vm_name": ("vmname", "vm", "myvm", "virtualmachinename", "nameofvm", "vmorapplicationname", "vmname1"),
    "vmss_name": ("vmssname", "virtualmachinescalesetname", "scalesetname", "myvmss"),
    "ua_name": ("userassignedidentityname", "userassignedidentity", "uaminame", "uaname", "identityname",
                "nameofnewmanagedidentity", "nameofexistingmanagedidentity", "managedidentityname",
                "myuserassignedidentity", "useridentityname"),
    "ua_id": ("resourceidrecordedearlier", "userassignedidentityid", "uaid", "resourceidofmanagedidentity",
              "identityresourceid", "identityid"),
    "principal_id": ("miprincipalid", "uamiprincipalid", "principalid", "miobjectid", "objectid", "vmobjectid",
                     "objectidofvmserviceprincipal", "managedidentityprincipalid", "spid"),
    "client_id": ("clientid", "uamiclientid", "yourmanagedidentityclientid", "managedidentityclientid"),
    "access_token": ("accesstoken", "token", "bearertoken", "yourtoken"),
    "storage_account": ("storageaccount", "storageaccountname", "mystorageacct", "storageacct",
                        "yourstorageaccount"),
    "container": ("containername", "container", "blobcontainer", "blobcontainername"),
    "blob_name": ("filename", "blobname", "blob"),
    "account_key": ("storageaccountkey", "accountkey", "storagekey", "key"),
    "sas_token": ("sastoken", "sascredential", "sas"),
    "expiry": ("expirationtime", "expirytime", "expiry", "signedexpiry"),
    "vault_url": ("yourkeyvaulturl", "keyvaulturl", "vaulturl"),
    "vault_name": ("keyvaultname", "vaultname", "yourkeyvaultname"),
    "secret_name": ("secretname", "secret"),
    "cosmos_account": ("cosmosdbaccountname", "cosmosaccount", "mycosmosaccount", "nameofnewaccount",
                       "nameofexistingaccount", "accountname", "cosmosdbaccount"),
    "cosmos_endpoint": ("accountendpoint", "cosmosdbendpoint"),
    "adls_name": ("youradlsname", "adlsname", "datalakestorename", "adlsaccountname"),
    "folder_name": ("foldername",),
    "container_group": ("nameofnewcontainer", "nameofexistingcontainer", "containergroupname",
                        "nameofnewcontainerinstance"),
    "plan_name": ("nameofnewplan", "nameofexistingplan", "planname", "appserviceplan"),
    "webapp_name": ("nameofnewwebapp", "nameofexistingwebapp", "webappname", "appname"),
    "admin_user": ("username", "adminusername", "adminuser", "vmusername"),
    "admin_password": ("password", "securepasswordstring", "adminpassword", "vmpassword"),
    "deployment_name": ("deploymentname",),
}

# example names pages use as if they were the reader's own (matched as whole words, any case)
EXAMPLE_NAMES: dict[str, tuple[str, ...]] = {
    "resource_group": ("myResourceGroup", "myResourceGroupVM", "myRG", "ExampleResourceGroup", "TestRG"),
    "vm_name": ("myVM", "myVm", "ExampleVM"),
    "vmss_name": ("myVMSS", "myVmss", "DevTestVMSS"),
    "ua_name": ("myUserAssignedIdentity", "ID1", "UAI1", "my-user-assigned"),
    "ua2_name": ("ID2",),
    "storage_account": ("myStorageAcct",),
}

_WORD = r"(?<![\w.-]){}(?![\w-])"
# a bound value's stand-in while Binder.bind works: word characters, so no _WORD pattern matches in it
# and the text around it keeps its word boundaries
_HELD = "MilabHeld{}Value"
SECRET_ROLES = {"access_token", "account_key", "sas_token", "cosmos_key", "admin_password"}
# A value a step printed: JSON keys -> roles (the first non-empty wins, later steps override earlier)
OUTPUT_KEYS = {
    "accessToken": "access_token", "access_token": "access_token",
    "principalId": "principal_id", "clientId": "client_id",
    "serviceSasToken": "sas_token",
}


@dataclass
class Binding:
    text: str
    unbound: list[str] = field(default_factory=list)
    used: dict[str, str] = field(default_factory=dict)  # placeholder or example name -> role


class Binder:
    """The values of one procedure run."""

    def __init__(self, values: dict[str, str] | None = None, explicit: dict[str, str] | None = None):
        self.values: dict[str, str] = dict(values or {})
        self.explicit = {placeholder_key(k): v for k, v in (explicit or {}).items()}
        # an example name the page uses for something else ('az vmss update -n myVM'): before EXAMPLE_NAMES
        self.explicit_names = {k: v for k, v in (explicit or {}).items() if any(k in n for n in EXAMPLE_NAMES.values())}
        self.sources: dict[str, str] = {}  # role -> where its value came from

    def set(self, role: str, value: str | None, source: str) -> None:
        if value:
            if role in SECRET_ROLES:
                from .. import redact
                redact.register_secret(str(value))  # a key or token a step printed never reaches a report
            self.values[role] = str(value)
            self.sources[role] = source

    def role_of(self, placeholder: str) -> str | None:
        key = placeholder_key(placeholder)
        for role, spellings in ROLES.items():
            if key in spellings:
                return role
        for role, spellings in ROLES.items():  # '<UAMI NAME>' style: a known spelling with a suffix
            if any(key.startswith(s) and len(s) > 6 for s in spellings):
                return role
        return None

    def value_for(self, placeholder: str) -> tuple[str | None, str | None]:
        key = placeholder_key(placeholder)
        if key in self.explicit:
            v = self.explicit[key]
            return (self.values.get(v[1:]) if v.startswith("@") else v), "page prose"
        role = self.role_of(placeholder)
        if role is None:
            return None, None
        if role == "expiry" and "expiry" not in self.values:
            exp = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
            self.values["expiry"] = exp.strftime("%Y-%m-%dT%H:%M:%SZ")
        if role == "vault_url" and "vault_name" in self.values and role not in self.values:
            self.values[role] = f"{self.values['vault_name']}.vault.azure.net"
        return self.values.get(role), role

    def bind(self, text: str) -> Binding:
        """Replace placeholders and example names; report what stays unbound."""
        out = Binding(text)
        # Each value goes in as a stand-in of word characters and is put back at the end, so a later pass
        # never rewrites a value an earlier one inserted: a storage key such as '...Mp/ID1+dr...' keeps
        # its 'ID1', which the example-name pass would otherwise make the identity's name.
        held: list[str] = []

        def hold(value: str) -> str:
            held.append(value)
            return _HELD.format(len(held) - 1)

        # in a template expression, variables('<name>') names the template's own variable
        bound = re.sub(r"\b(variables|parameters)\('<([A-Za-z]\w*)>'\)", r"\1('\2')", text)
        for ph in sorted(set(find_placeholders(text)), key=len, reverse=True):
            value, role = self.value_for(ph)
            if value is None:
                out.unbound.append(ph)
                continue
            bound = bound.replace(ph, hold(value))
            out.used[ph] = role or "page prose"
        for name, v in self.explicit_names.items():
            value = self.values.get(v[1:]) if v.startswith("@") else v
            pattern = re.compile(_WORD.format(re.escape(name)))
            if value and pattern.search(bound):
                bound = pattern.sub(lambda _m: hold(value), bound)
                out.used[name] = "page prose"
        for role, names in EXAMPLE_NAMES.items():
            value = self.values.get(role)
            if not value:
                continue
            for name in names:
                pattern = re.compile(_WORD.format(re.escape(name)), re.I)
                if pattern.search(bound):
                    bound = pattern.sub(lambda _m: hold(value), bound)
                    out.used[name] = role
        # a subscription GUID written into a path is the page author's subscription
        sub = self.values.get("subscription_id")
        if sub:
            bound = re.sub(r"(?i)(/subscriptions/)(?!" + re.escape(sub) + r")[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                           r"[0-9a-f]{4}-[0-9a-f]{12}", lambda m: m.group(1) + hold(sub), bound)
        out.text = re.sub(_HELD.format(r"(\d+)"), lambda m: held[int(m.group(1))], bound)
        out.unbound = sorted(set(out.unbound))
        return out

    def learn(self, stdout: str, source: str) -> None:
        """Take the values a step printed (JSON): tokens, principal and client ids, keys, SAS."""
        for doc in json_values(stdout):
            self._learn(doc, source)

    def _learn(self, doc, source: str) -> None:
        if isinstance(doc, list):
            if len(doc) == 1:
                self._learn(doc[0], source)
            return
        if not isinstance(doc, dict):
            return
        for key, role in OUTPUT_KEYS.items():
            if isinstance(doc.get(key), str) and doc[key]:
                self.set(role, doc[key], source)
        ident = doc.get("identity")
        if isinstance(ident, dict) and isinstance(ident.get("principalId"), str):
            self.set("principal_id", ident["principalId"], source)
        if doc.get("type", "").lower() == "microsoft.managedidentity/userassignedidentities" and doc.get("id"):
            self.set("ua_id", doc["id"], source)
        keys = doc.get("keys")
        if isinstance(keys, list) and keys and isinstance(keys[0], dict) and keys[0].get("value"):
            self.set("account_key", keys[0]["value"], source)
        for k in ("primaryMasterKey", "primaryReadonlyMasterKey"):
            if isinstance(doc.get(k), str):
                self.set("cosmos_key", doc[k], source)


def json_values(text: str) -> list:
    """Every top-level JSON object or array in a text (a step may print several)."""
    dec = json.JSONDecoder()
    out = []
    i = 0
    n = len(text)
    while i < n:
        j = min((k for k in (text.find("{", i), text.find("[", i)) if k >= 0), default=-1)
        if j < 0:
            break
        try:
            value, end = dec.raw_decode(text, j)
        except ValueError:
            i = j + 1
            continue
        out.append(value)
        i = end
    return out
