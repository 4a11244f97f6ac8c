"""What a procedure starts from: the state its page makes in the portal or assumes from an
earlier page, made by the harness with the fixtures the scenarios use, uniquely named.

``given`` tokens (catalogue):

``rg``                         the procedure's resource group
``vm`` / ``vm:<kinds>``        a VM in it: ``system``, ``user`` (with the first user-assigned
                               identity), ``both``, or ``system+ID1+ID2`` (named identities)
``vmss`` / ``vmss:<kinds>``    a scale set, likewise
``ua`` / ``ua:ID1`` / ``ua:ID2`` a user-assigned identity (``ID2`` binds the page's second name)
``storage``, ``container``     a storage account, a blob container in it
``blob:<name>=<content>``      a blob the page uploaded in the portal
``grant:<role>@<scope>``       the VM's identity gets a role at ``rg``, ``vm``, ``storage``, ``container``,
                               ``cosmos``, ``keyvault`` or ``subscription``
``cosmos`` / ``cosmos:system`` a Cosmos DB account (with a system-assigned identity)
``keyvault``, ``secret``, ``policy:get@keyvault``  a vault, a secret in it, an access policy for the VM

Everything is deleted when the procedure ends, whatever its outcome (``cleanup``).
"""
from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from ..targets.base import Target
from .bind import Binder


class GivenError(Exception):
    """The harness cannot make the state a procedure starts from (a milab gap)."""


@dataclass
class Factories:
    """The scenario fixtures a procedure's state is made with (see fixtures/)."""
    resource_group: Callable
    vm_factory: Callable
    user_identity: Callable
    storage_account: Callable
    blob_container: Callable
    upload_blob: Callable
    grant: Callable
    cleanup: Any
    gen1_account: Callable | None = None


def short(kind: str) -> str:
    return f"{kind}{secrets.token_hex(4)}"


@dataclass
class World:
    target: Target
    make: Factories
    binder: Binder
    os: str = "linux"
    made: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    # -- names ------------------------------------------------------------------------------------------
    def name_everything(self, proc_id: str) -> None:
        """Unique names for every role a page may create or mention, before any step runs."""
        t = self.target
        b = self.binder
        rg = f"{t.prefix}-{re.sub(r'[^a-z0-9]', '', proc_id.lower())[:16]}-{secrets.token_hex(2)}"
        for role, value in {
            "resource_group": rg, "vm_name": short("vm"), "vmss_name": short("ss"), "ua_name": short("id1"),
            "ua2_name": short("id2"), "storage_account": f"st{secrets.token_hex(8)}"[:20],
            "container": f"c{secrets.token_hex(4)}", "vault_name": f"kv{secrets.token_hex(6)}",
            "secret_name": "mysecret", "cosmos_account": f"cos{secrets.token_hex(6)}",
            "adls_name": f"dl{secrets.token_hex(6)}", "folder_name": "TestFolder",
            "container_group": short("aci"), "plan_name": short("plan"), "webapp_name": short("web"),
            "deployment_name": short("dep"), "admin_user": "azureuser", "location": t.location,
            "subscription_id": t.subscription_id, "tenant_id": getattr(t, "tenant_id", None) or self._tenant(),
        }.items():
            b.set(role, value, "the harness")
        b.set("admin_password", t.password(), "the harness (registered for redaction)")
        self.made["rg_name"] = rg
        self.make.cleanup.add(f"resource group {rg}", lambda: self._delete_group(rg))

    def _delete_group(self, name: str) -> None:
        """The group a page's own commands made (the fixture deletes the one it made)."""
        if "rg" in self.made:
            return
        if self.target.resources.resource_groups.check_existence(name):
            self.target.delete_group(name)

    def _operator_oid(self) -> str | None:
        import jwt
        token = self.target.credential.get_token("https://management.azure.com/.default").token
        return jwt.decode(token, options={"verify_signature": False}).get("oid")

    def _tenant(self) -> str | None:
        import jwt
        token = self.target.credential.get_token("https://management.azure.com/.default").token
        return jwt.decode(token, options={"verify_signature": False}).get("tid")

    # -- the given state --------------------------------------------------------------------------------
    def prepare(self, given: tuple[str, ...]) -> None:
        import time
        for token in given:
            started = time.monotonic()
            try:
                self._make(token)
            except GivenError:
                raise
            except Exception as e:
                raise GivenError(f"the harness could not make '{token}': {type(e).__name__}: "
                                 f"{str(e).splitlines()[0][:300] if str(e) else ''}") from e
            self.log.append(f"given {token} ({time.monotonic() - started:.2f} s)")

    def group(self):
        rg = self.made.get("rg")
        if rg is None:
            rg = self.make.resource_group(self.made["rg_name"])
            self.made["rg"] = rg
        return rg

    def _ua(self, label: str):
        key = f"ua:{label}"
        if key not in self.made:
            role = "ua2_name" if label == "ID2" else "ua_name"
            ua = self.make.user_identity(self.group(), self.binder.values[role])
            self.made[key] = ua
            if role == "ua_name":
                self.made["ua"] = ua
                # what "the resource ID recorded earlier" is, when an earlier page section made it
                self.binder.set("ua_id", ua.id, "the harness (the identity an earlier section made)")
        return self.made[key]

    def _make(self, token: str) -> None:
        kind, _, arg = token.partition(":")
        if kind == "rg":
            self.group()
        elif kind == "ua":
            self._ua(arg or "ID1")
        elif kind in ("vm", "vmss"):
            self._host(kind, arg)
        elif kind == "storage":
            acct = self.make.storage_account(self.group(), self.binder.values["storage_account"])
            self.made["storage"] = acct
        elif kind == "container":
            c = self.make.blob_container(self.made["storage"], self.binder.values["container"])
            self.made["container"] = c
        elif kind == "blob":
            name, _, content = arg.partition("=")
            self.make.upload_blob(self.made["container"], name, content)
            self.binder.set("blob_name", name, "the harness (uploaded as the page does in the portal)")
        elif kind == "grant":
            role, _, scope = arg.partition("@")
            self.make.grant(self._principal(), role, self._scope(scope))
        elif kind == "cosmos":
            self._cosmos(identity=arg == "system")
        elif kind == "keyvault":
            self._vault()
        elif kind == "secret":
            self._secret()
        elif kind == "policy":
            pass  # made with the vault (its access policies)
        elif kind == "adls":
            self._adls()
        elif kind == "adls-acl":
            path, _, perm = arg.partition("=")
            self._adls_acl(path, perm)
        else:
            raise GivenError(f"unknown given state '{token}'")

    def remake(self, given: tuple[str, ...]) -> None:
        """A branch: the state an alternative command starts from (a new VM or scale set)."""
        for token in given:
            kind = token.partition(":")[0]
            if kind in ("vm", "vmss"):
                role = "vm_name" if kind == "vm" else "vmss_name"
                self.binder.set(role, short(kind[:2]), "the harness (a branch)")
            self._make(token)

    def _host(self, kind: str, arg: str) -> None:
        parts = [p for p in arg.split("+") if p]
        system = "system" in parts or "both" in parts
        uas = []
        if "user" in parts or "both" in parts:
            uas.append(self._ua("ID1"))
        for label in ("ID1", "ID2"):
            if label in parts:
                uas.append(self._ua(label))
        identity = "both" if system and uas else "system" if system else "user" if uas else "none"
        name = self.binder.values["vm_name" if kind == "vm" else "vmss_name"]
        if kind == "vm":
            vm = self.make.vm_factory(self.group(), os=self.os, identity=identity, user_identities=uas, name=name)
            self.made["vm"] = vm
            self.made["host"] = vm
        else:
            self.made["vmss"] = self._vmss(name, identity, uas)
            self.made["host"] = self.made["vmss"]

    def _vmss(self, name: str, identity: str, uas: list):
        """A small Linux scale set (two instances) with the asked identities, through the compute SDK."""
        from fixtures.resources import IMAGES
        t = self.target
        rg = self.group()
        vnet = f"{name}-vnet"
        t.lro(t.network.virtual_networks.begin_create_or_update(rg.name, vnet, {
            "location": t.location, "tags": t.tags(),
            "properties": {"addressSpace": {"addressPrefixes": ["10.30.0.0/16"]},
                           "subnets": [{"name": "default", "properties": {"addressPrefix": "10.30.0.0/24"}}]}}))
        subnet = f"{rg.id}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/default"
        body: dict = {
            "location": t.location, "tags": t.tags(), "sku": {"name": "Standard_B1s", "capacity": 2},
            "properties": {"upgradePolicy": {"mode": "Manual"}, "virtualMachineProfile": {
                "storageProfile": {"imageReference": IMAGES["linux"], "osDisk": {"createOption": "FromImage"}},
                "osProfile": {"computerNamePrefix": "milab", "adminUsername": "milabadmin",
                              "adminPassword": t.password()},
                "networkProfile": {"networkInterfaceConfigurations": [{"name": "nic", "properties": {
                    "primary": True, "ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": subnet}}}]}}]}}},
        }
        kinds = {"system": "SystemAssigned", "user": "UserAssigned", "both": "SystemAssigned, UserAssigned"}
        if identity in kinds:
            body["identity"] = {"type": kinds[identity]}
            if uas:
                body["identity"]["userAssignedIdentities"] = {u.id: {} for u in uas}
        ss = t.lro(t.compute.virtual_machine_scale_sets.begin_create_or_update(rg.name, name, body))
        self.make.cleanup.add(f"scale set {name}", lambda: t.lro(
            t.compute.virtual_machine_scale_sets.begin_delete(rg.name, name)))
        return ss

    def _principal(self) -> str:
        host = self.made.get("host")
        if host is None:
            raise GivenError("a grant needs a VM or scale set first")
        pid = getattr(host, "principal_id", None)
        if pid is None and getattr(host, "identity", None) is not None:
            pid = host.identity.principal_id
        if pid is None and self.made.get("ua") is not None:
            pid = self.made["ua"].principal_id
        if pid is None:
            raise GivenError("the VM has no identity to grant a role to")
        return pid

    def _scope(self, name: str) -> str:
        if name == "subscription":
            return f"/subscriptions/{self.target.subscription_id}"
        if name == "rg":
            return self.group().id
        obj = {"vm": self.made.get("host"), "storage": self.made.get("storage"),
               "container": self.made.get("container"), "cosmos": self.made.get("cosmos"),
               "keyvault": self.made.get("keyvault")}.get(name)
        if obj is None:
            raise GivenError(f"no '{name}' to grant a role on")
        return obj.id if hasattr(obj, "id") else obj["id"]

    # -- resources the fixtures do not make: through ARM's REST API as the operator ----------------------
    def _arm(self, method: str, path: str, api_version: str, body: dict | None = None) -> dict:
        token = self.target.credential.get_token("https://management.azure.com/.default").token
        r = requests.request(method, f"https://management.azure.com{path}?api-version={api_version}",
                             json=body, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        if r.status_code >= 400:
            raise GivenError(f"{method} {path.rsplit('/providers/', 1)[-1]} answered {r.status_code}: {r.text[:300]}")
        return r.json() if r.content else {}

    def _cosmos(self, identity: bool) -> None:
        rg = self.group()
        name = self.binder.values["cosmos_account"]
        path = f"{rg.id}/providers/Microsoft.DocumentDB/databaseAccounts/{name}"
        body: dict = {"location": self.target.location, "kind": "GlobalDocumentDB", "tags": self.target.tags(),
                      "properties": {"databaseAccountOfferType": "Standard",
                                     "locations": [{"locationName": self.target.location, "failoverPriority": 0}]}}
        if identity:
            body["identity"] = {"type": "SystemAssigned"}
        self.made["cosmos"] = self._arm("PUT", path, "2024-11-15", body) or {"id": path}
        self.made["cosmos"].setdefault("id", path)
        self.make.cleanup.add(f"Cosmos DB account {name}", lambda: self._arm("DELETE", path, "2024-11-15"))

    def _vault(self) -> None:
        rg = self.group()
        name = self.binder.values["vault_name"]
        path = f"{rg.id}/providers/Microsoft.KeyVault/vaults/{name}"
        operator = self._operator_oid()
        policies = [{"tenantId": self.binder.values["tenant_id"], "objectId": operator,  # the portal adds its creator
                     "permissions": {"secrets": ["get", "list", "set", "delete", "recover", "purge"]}}]
        if self.made.get("host") is not None:
            policies.append({"tenantId": self.binder.values["tenant_id"], "objectId": self._principal(),
                             "permissions": {"secrets": ["get", "list"]}})
        body = {"location": self.target.location, "tags": self.target.tags(),
                "properties": {"tenantId": self.binder.values["tenant_id"], "sku": {"family": "A", "name": "standard"},
                               "accessPolicies": policies}}
        self.made["keyvault"] = self._arm("PUT", path, "2023-07-01", body) or {"id": path}
        self.made["keyvault"].setdefault("id", path)
        self.make.cleanup.add(f"key vault {name}", lambda: self._arm("DELETE", path, "2023-07-01"))

    def _adls(self) -> None:
        """A Data Lake Storage Gen1 account (the page's 'existing Data Lake Store instance')."""
        if self.make.gen1_account is None:
            raise GivenError("no Data Lake Store fixture to make the account with")
        self.made["adls"] = self.make.gen1_account(self.group(), self.binder.values["adls_name"])

    def _adls_acl(self, path: str, perm: str) -> None:
        """The page's portal steps in Data Explorer: a folder (New Folder) and, on it, Access > Add the
        VM with the permissions (``rwx``, ``+default`` for 'an access permission entry and a default
        permission entry'), as the operator, a super-user of the account it owns."""
        perm, _, default = perm.partition("+")
        acct = self.made.get("adls")
        if acct is None:
            raise GivenError("an ACL needs the Data Lake Store account first")
        folder = path.replace("{folder}", self.binder.values["folder_name"])
        if folder != "/":
            r = acct.operator(self.target, "PUT", folder, "MKDIRS")
            if r.status_code >= 400:
                raise GivenError(f"the harness cannot make {folder} ({r.status_code}): {r.text[:200]}")
        entry = f"user:{self._principal()}:{perm}"
        acct.grant(self.target, folder, entry + (f",default:{entry}" if default else ""))

    def _secret(self) -> None:
        name = self.binder.values["vault_name"]
        token = self.target.credential.get_token("https://vault.azure.net/.default").token
        try:
            r = requests.put(f"https://{name}.vault.azure.net/secrets/{self.binder.values['secret_name']}"
                             f"?api-version=7.4", json={"value": f"s3cret-{uuid.uuid4().hex[:8]}"},
                             headers={"Authorization": f"Bearer {token}"}, timeout=60)
        except requests.RequestException as e:
            raise GivenError(f"the harness cannot add a secret to the vault: {e}") from e
        if r.status_code >= 400:
            raise GivenError(f"the harness cannot add a secret to the vault ({r.status_code}): {r.text[:200]}")
