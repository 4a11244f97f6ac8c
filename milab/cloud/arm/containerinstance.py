"""Microsoft.ContainerInstance/containerGroups: container groups with managed identities.

A container group is a guest (``compute.add_guest``): its containers run in a context whose
IMDS (``169.254.169.254``, as in Azure Container Instances) answers for the group's identities.
The identity block is ACI's: ``"SystemAssigned, UserAssigned"``, ``userAssignedIdentities`` as a
dictionary at every api-version. Shapes follow azure-rest-api-specs'
``ContainerGroupsCreateOrUpdate`` example (``properties.containers[].properties.image``,
``resources.requests.cpu/memoryInGB``, ``osType``, ``instanceView.state``) and the
``az container show --query identity`` output of seed 001.
"""
from __future__ import annotations

from .base import INTERNAL, Call, ResourceType
from .compute import add_guest, remove_guests
from .errors import ArmError
from . import identity

ACI_API_VERSIONS = (
    "2017-08-01-preview", "2017-10-01-preview", "2017-12-01-preview", "2018-02-01-preview", "2018-04-01",
    "2018-06-01", "2018-09-01", "2018-10-01", "2019-12-01", "2020-11-01", "2021-03-01", "2021-07-01",
    "2021-09-01", "2021-10-01", "2022-09-01", "2022-10-01-preview", "2023-02-01-preview", "2023-05-01",
    "2024-05-01-preview", "2024-09-01-preview", "2024-10-01-preview", "2024-11-01-preview", "2025-09-01",
)
ACI_STYLE = identity.IdentityStyle(both="SystemAssigned, UserAssigned")
# ``properties.osType`` is required up to 2023-05-01 and optional from 2024-05-01-preview on
# (Azure/bicep-types-az generated/containerinstance/microsoft.containerinstance/<version>/types.md:
# ContainerGroupPropertiesProperties' osType loses "(Required)"; the profiles keep it required).
OS_TYPE_OPTIONAL_SINCE = "2024-05-01-preview"


class ContainerGroup(ResourceType):
    type = "Microsoft.ContainerInstance/containerGroups"
    api_versions = ACI_API_VERSIONS
    identity_style = ACI_STYLE

    def __init__(self, type_name: str | None = None):
        super().__init__(type_name)
        self.actions = {"restart": self._noop, "stop": self._noop, "start": self._noop}

    def _noop(self, call: Call, res: dict):
        return 204, None

    def validate(self, call: Call, body: dict, existing: dict | None) -> None:
        super().validate(call, body, existing)
        props = body.get("properties")
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                         "deserialized: 'properties' is required.")
        containers = props.get("containers")
        if not isinstance(containers, list) or not containers:
            raise ArmError(400, "MissingContainers", "The container group must have at least one container.")
        for c in containers:
            cp = (c or {}).get("properties") if isinstance(c, dict) else None
            if not isinstance(cp, dict) or not cp.get("image") or not c.get("name"):
                raise ArmError(400, "InvalidContainerProperties" if isinstance(cp, dict) else "MissingContainerImage",
                               f"The container '{(c or {}).get('name') if isinstance(c, dict) else c}' must have a "
                               f"name and an image.")
            req = ((cp.get("resources") or {}).get("requests") or {})
            if not req.get("cpu") or not req.get("memoryInGB"):
                raise ArmError(400, "InvalidContainerResources" if req else "MissingContainerResources",
                               f"The container '{c['name']}' must request 'cpu' and 'memoryInGB'.")
        if "osType" not in props and call.api_version >= OS_TYPE_OPTIONAL_SINCE:
            return  # a profile or standby pool may supply it; az container create (2.91) sends none
        if str(props.get("osType", "")).lower() not in ("linux", "windows"):
            raise ArmError(400, "InvalidOsType", f"The 'osType' '{props.get('osType')}' is not valid: use 'Linux' or "
                                                 f"'Windows'.")

    def _running(self, res: dict) -> dict:
        props = res["properties"]
        for c in props.get("containers") or []:
            cp = c.setdefault("properties", {})
            cp["instanceView"] = {"restartCount": 0, "currentState": {"state": "Running", "detailStatus": "",
                                                                      "startTime": res[INTERNAL]["created"]},
                                  "events": []}
        props["instanceView"] = {"state": "Running", "events": []}
        props.setdefault("sku", "Standard")
        props.setdefault("restartPolicy", "Always")
        return res

    def create(self, call: Call, rid: str, body: dict) -> dict:
        res = self._running(super().create(call, rid, body))
        add_guest(call.state, rid)
        return res

    def replace(self, call: Call, existing: dict, body: dict) -> dict:
        return self._running(super().replace(call, existing, body))

    def on_delete(self, call: Call, existing: dict) -> None:
        remove_guests(call, existing["id"])


TYPES = [ContainerGroup()]
