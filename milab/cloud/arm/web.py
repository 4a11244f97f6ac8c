"""Microsoft.Web: App Service plans (serverfarms), sites (web and function apps), their
``config/web`` and ``config/appsettings``, and ``checknameavailability``.

A site is a guest (``compute.add_guest``) whose code gets App Service's token endpoint, not
IMDS: ``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER`` (api-version 2019-08-01) and the older
``MSI_ENDPOINT`` / ``MSI_SECRET`` (2017-09-01), served by ``milab/cloud/appservice``. App
settings are the site's environment too, as in App Service. The identity block is App
Service's: ``principalId``/``tenantId`` are ``null`` when only user-assigned identities are
present (seed 001's ``az webapp show --query identity`` output).
"""
from __future__ import annotations

import re
import secrets

from .base import INTERNAL, Call, ResourceType, now_iso
from .compute import add_guest, remove_guests
from .errors import ArmError
from . import identity

WEB_API_VERSIONS = (
    "2015-08-01", "2016-03-01", "2016-08-01", "2016-09-01", "2018-02-01", "2018-11-01", "2019-08-01",
    "2020-06-01", "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-01-15", "2021-02-01",
    "2021-03-01", "2022-03-01", "2022-09-01", "2023-01-01", "2023-12-01", "2024-04-01", "2024-11-01",
    "2025-03-01", "2025-05-01",
)
WEB_STYLE = identity.IdentityStyle(both="SystemAssigned, UserAssigned", null_ids_when_user_only=True)
TOKEN_HOST = "169.254.129.3"  # where the emulated sandbox's token endpoint listens (through the guest's proxy)
IDENTITY_ENDPOINT = f"http://{TOKEN_HOST}:8081/msi/token"
_SITE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?$")


class ServerFarm(ResourceType):
    type = "Microsoft.Web/serverfarms"
    api_versions = WEB_API_VERSIONS
    identity_style = None

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = super().create(call, rid, body)
        res.setdefault("sku", {"name": "F1", "tier": "Free", "size": "F1", "family": "F", "capacity": 1})
        res.setdefault("kind", "app")
        props = res["properties"]
        props.update({"status": "Ready", "numberOfSites": 0, "reserved": bool(props.get("reserved")),
                      "perSiteScaling": bool(props.get("perSiteScaling"))})
        return res

    def render(self, call: Call, res: dict) -> dict:
        out = super().render(call, res)
        sites = [r for r in call.state.resources.values() if r["type"] == Site.type and
                 str(r["properties"].get("serverFarmId", "")).lower() == res["id"].lower()]
        out["properties"] = {**out["properties"], "numberOfSites": len(sites)}
        return out


class Site(ResourceType):
    type = "Microsoft.Web/sites"
    api_versions = WEB_API_VERSIONS
    identity_style = WEB_STYLE
    has_imds = False  # App Service sandboxes have no 169.254.169.254

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        if existing is None and not _SITE_NAME.match(call.ref.name or ""):
            raise ArmError(400, "InvalidSiteName", f"The site name '{call.ref.name}' is not valid: use 2 to 60 "
                                                   f"letters, digits and hyphens, starting and ending with a letter "
                                                   f"or digit.")
        farm = ((body.get("properties") or {}).get("serverFarmId")) if isinstance(body, dict) else None
        if existing is None:
            if not farm:
                raise ArmError(400, "BadRequest", "The parameter 'properties.serverFarmId' is required.")
            if call.state.get(str(farm)) is None:
                raise ArmError(404, "NotFound", f"Cannot find ServerFarm with name "
                                                f"{str(farm).rstrip('/').rsplit('/', 1)[-1]}.")
            if existing is None and _taken(call, call.ref.name):
                raise ArmError(409, "Conflict", f"Website with given name {call.ref.name} already exists.")

    def _shape(self, call: Call, res: dict, body: dict) -> dict:
        name = res["name"]
        props = res["properties"]
        farm = call.state.get(str(props.get("serverFarmId", ""))) or {}
        kind = res.get("kind") or ("app,linux" if (farm.get("properties") or {}).get("reserved") else "app")
        res["kind"] = kind
        props.pop("siteConfig", None)
        props.update({"name": name, "state": "Running", "hostNames": [f"{name}.azurewebsites.net"],
                      "enabledHostNames": [f"{name}.azurewebsites.net", f"{name}.scm.azurewebsites.net"],
                      "defaultHostName": f"{name}.azurewebsites.net", "usageState": "Normal",
                      "availabilityState": "Normal", "reserved": "linux" in kind,
                      "httpsOnly": bool(props.get("httpsOnly")), "resourceGroup": call.ref.resource_group,
                      "lastModifiedTimeUtc": now_iso()})
        return res

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = self._shape(call, super().create(call, rid, body), body)
        res[INTERNAL]["identity_header"] = secrets.token_urlsafe(24)
        res[INTERNAL]["site_config"] = dict((body.get("properties") or {}).get("siteConfig") or {})
        res[INTERNAL]["app_settings"] = {s["name"]: str(s.get("value", "")) for s in
                                         res[INTERNAL]["site_config"].pop("appSettings", []) or []
                                         if isinstance(s, dict) and s.get("name")}
        for name in ("web", "appsettings"):  # a site always has these (their content lives on the site)
            call.state.put({"id": f"{rid}/config/{name}", "name": name, "type": SiteConfig.type,
                            "properties": {}})
        add_guest(call.state, rid)
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return self._shape(call, super().replace(call, existing, body), body)

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        return self._shape(call, super().patch(call, existing, body), body)

    def on_delete(self, call: Call, existing: dict) -> None:
        remove_guests(call, existing["id"])

    def guest_env(self, res: dict) -> dict[str, str]:
        """What App Service puts in the environment of the site's code."""
        header = (res.get(INTERNAL) or {}).get("identity_header", "")
        env = dict((res.get(INTERNAL) or {}).get("app_settings") or {})
        env.update({"IDENTITY_ENDPOINT": IDENTITY_ENDPOINT, "IDENTITY_HEADER": header,
                    "MSI_ENDPOINT": IDENTITY_ENDPOINT, "MSI_SECRET": header,
                    "WEBSITE_SITE_NAME": res["name"], "WEBSITE_HOSTNAME": f"{res['name']}.azurewebsites.net",
                    "WEBSITE_RESOURCE_GROUP": res["id"].split("/")[4]})
        return env


class SiteConfig(ResourceType):
    """``sites/{name}/config/web`` (the site's configuration) and ``config/appsettings``."""

    type = "Microsoft.Web/sites/config"
    api_versions = WEB_API_VERSIONS
    identity_style = None
    location_required = False

    def __init__(self, type_name: str | None = None):
        super().__init__(type_name)
        self.actions = {"list": self._list}

    def _site(self, call: Call) -> dict:
        site = call.state.get(call.ref.id.rsplit("/", 2)[0])
        if site is None:
            raise ArmError(404, "ResourceNotFound", f"The Resource 'Microsoft.Web/sites/{call.ref.names[0]}' under "
                                                    f"resource group '{call.ref.resource_group}' was not found.")
        return site

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        if (call.ref.name or "").lower() not in ("web", "appsettings"):
            raise ArmError(404, "NotFound", f"The configuration '{call.ref.name}' is not supported.")

    def _doc(self, call: Call, site: dict, name: str) -> dict:
        internal = site.get(INTERNAL) or {}
        props = dict(internal.get("site_config") or {}) if name == "web" else dict(internal.get("app_settings") or {})
        if name == "web":
            props.setdefault("numberOfWorkers", 1)
            props.setdefault("alwaysOn", False)
            props.setdefault("ftpsState", "FtpsOnly")
            props.setdefault("minTlsVersion", "1.2")
            props.setdefault("http20Enabled", False)
            props.setdefault("linuxFxVersion", "")
        return {"id": f"{site['id']}/config/{name}", "name": name, "type": self.type,
                "location": site.get("location"), "properties": props}

    def _store(self, call: Call, body: dict, merge: bool) -> dict:
        site = self._site(call)
        name = call.ref.name.lower()
        key = "site_config" if name == "web" else "app_settings"
        new = dict((body or {}).get("properties") or {})
        if name == "appsettings":
            new = {k: str(v) for k, v in new.items()}
        internal = site.setdefault(INTERNAL, {})
        internal[key] = {**(internal.get(key) or {}), **new} if merge else new
        call.state.put(site)
        return self._doc(call, site, name)

    def create(self, call: Call, rid: str, body: dict) -> dict:
        return self._store(call, body, merge=False)

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return self._store(call, body, merge=False)

    def patch(self, call: Call, existing: dict, body: dict) -> dict:
        return self._store(call, body, merge=True)

    def _list(self, call: Call, res: dict):
        return 200, self.render(call, res)

    def render(self, call: Call, res: dict) -> dict:
        site = call.state.get(res["id"].rsplit("/", 2)[0])
        return self._doc(call, site, res["name"].lower()) if site else res


def _taken(call: Call, name: str | None) -> bool:
    return any(r["type"] == Site.type and r["name"].lower() == (name or "").lower()
               for r in call.state.resources.values())


def check_name_availability(call: Call):
    """``POST /subscriptions/{s}/providers/Microsoft.Web/checknameavailability``."""
    body = call.body if isinstance(call.body, dict) else {}
    name, kind = body.get("name"), str(body.get("type", "Site"))
    if not name or not isinstance(name, str):
        raise ArmError(400, "BadRequest", "The parameter 'name' is required.")
    if not _SITE_NAME.match(name):
        return 200, {"nameAvailable": False, "reason": "Invalid", "message": f"The name '{name}' is not valid."}
    if kind.lower() in ("site", "microsoft.web/sites", "slot") and _taken(call, name):
        return 200, {"nameAvailable": False, "reason": "AlreadyExists",
                     "message": f"Hostname '{name}' already exists. Please select a different name."}
    return 200, {"nameAvailable": True}


TYPES = [ServerFarm(), Site(), SiteConfig()]
PROVIDER_ACTIONS = {"microsoft.web/checknameavailability": check_name_availability}
