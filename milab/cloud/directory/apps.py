"""The first-party resource applications every Entra tenant has a service principal for.

Their app IDs are Microsoft's (the same in every tenant); their service principals' object ids
are the tenant's own, made when the emulated tenant is. Each lists the audiences Entra issues
tokens for (its App ID URIs and its app ID) and the *application* permissions (app roles with
``allowedMemberTypes: ["Application"]``) the tutorials and services use, with their real ids:

* Microsoft Graph ``00000003-0000-0000-c000-000000000000``: ids as in the Microsoft Graph
  permissions reference (``Directory.Read.All`` 7ab1d382-..., ``Application.Read.All``
  9a5d68dd-..., ``AppRoleAssignment.ReadWrite.All`` 06b708a9-..., ``GroupMember.Read.All``
  98830695-..., ``GroupMember.ReadWrite.All`` dbaae8cf-..., ...), the same ids scripts grant with
  ``New-MgServicePrincipalAppRoleAssignment`` / ``az ad app permission add --api-permissions``.
* Azure AD Graph, "Windows Azure Active Directory" ``00000002-0000-0000-c000-000000000000``:
  ``Directory.Read.All`` 5778995a-e1bf-45b8-affa-663a9f3f4d04 as the 2019 Linux page's
  ``servicePrincipals?$filter=appId eq ...`` response shows it (description and display name
  included), ``Directory.ReadWrite.All`` 78c8a3c8-..., ``Application.ReadWrite.All`` 1cda74f2-...
  (Learn, "Permissions differences between Azure AD Graph and Microsoft Graph").
* Azure Storage, Azure Key Vault, Azure SQL Database, Azure Cosmos DB, Azure Data Lake and
  Windows Azure Service Management API (ARM): resources that authorize with Azure RBAC or their
  own ACLs, so they define no application permissions.

The owner tenant of every first-party app is Microsoft's (``appOwnerTenantId``
f8cdef31-a31e-4b4a-93e4-5f571e91255a in the page's sample response).
"""
from __future__ import annotations

from dataclasses import dataclass

MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
AAD_GRAPH_APP_ID = "00000002-0000-0000-c000-000000000000"


@dataclass(frozen=True)
class AppRole:
    id: str
    value: str
    display_name: str
    description: str
    member_types: tuple[str, ...] = ("Application",)

    def graph(self) -> dict:
        """The appRole resource as Microsoft Graph and Azure AD Graph render it."""
        return {"allowedMemberTypes": list(self.member_types), "description": self.description,
                "displayName": self.display_name, "id": self.id, "isEnabled": True, "origin": "Application",
                "value": self.value}


@dataclass(frozen=True)
class ResourceApp:
    app_id: str
    display_name: str
    identifier_uris: tuple[str, ...]  # App ID URIs: what a token request names as its resource
    app_roles: tuple[AppRole, ...] = ()
    host_suffixes: tuple[str, ...] = ()  # per-account audiences (https://<account><suffix>[/])

    @property
    def audiences(self) -> tuple[str, ...]:
        """Every ``aud`` a token for this app may carry: each App ID URI with and without its
        trailing slash, and the app id itself (v2 tokens)."""
        out: list[str] = []
        for uri in self.identifier_uris:
            for form in (uri, uri.rstrip("/"), uri.rstrip("/") + "/"):
                if form not in out:
                    out.append(form)
        return (*out, self.app_id)

    def role(self, role_id: str) -> AppRole | None:
        role_id = (role_id or "").lower()
        return next((r for r in self.app_roles if r.id == role_id), None)

    def role_by_value(self, value: str) -> AppRole | None:
        return next((r for r in self.app_roles if r.value.lower() == (value or "").lower()), None)

    def names(self, audience: str) -> bool:
        """Does a token audience name this app?"""
        aud = (audience or "").lower()
        if aud in (a.lower() for a in self.audiences):
            return True
        host = aud.removeprefix("https://").split("/", 1)[0].split(":", 1)[0]
        return aud.startswith("https://") and any(host.endswith(s) and host != s.lstrip(".")
                                                  for s in self.host_suffixes)


def _r(id_: str, value: str, name: str, description: str) -> AppRole:
    return AppRole(id_, value, name, description)


MICROSOFT_GRAPH = ResourceApp(GRAPH_APP_ID, "Microsoft Graph", ("https://graph.microsoft.com",), (
    _r("7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All", "Read directory data",
       "Allows the app to read data in your organization's directory, such as users, groups and apps, without a "
       "signed-in user."),
    _r("19dbc75e-c2e2-444c-a770-ec69d8559fc7", "Directory.ReadWrite.All", "Read and write directory data",
       "Allows the app to read and write data in your organization's directory, such as users, and groups, "
       "without a signed-in user. Does not allow user or group deletion."),
    _r("9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Application.Read.All", "Read all applications",
       "Allows the app to read all applications and service principals without a signed-in user."),
    _r("1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", "Application.ReadWrite.All", "Read and write all applications",
       "Allows the app to create, read, update and delete applications and service principals without a "
       "signed-in user. Does not allow management of consent grants."),
    _r("06b708a9-e830-4db3-a914-8e69da51d44f", "AppRoleAssignment.ReadWrite.All", "Manage app permission grants "
       "and app role assignments", "Allows the app to manage permission grants for application permissions to "
       "any API (including Microsoft Graph) and application assignments for any app, without a signed-in user."),
    _r("df021288-bdef-4463-88db-98f22de89214", "User.Read.All", "Read all users' full profiles",
       "Allows the app to read user profiles without a signed in user."),
    _r("98830695-27a2-44f7-8c18-0c3ebc9698f6", "GroupMember.Read.All", "Read all group memberships",
       "Allows the app to read memberships and basic group properties for all groups without a signed-in user."),
    _r("dbaae8cf-10b5-4b86-a4a1-f871c94c6695", "GroupMember.ReadWrite.All", "Read and write all group "
       "memberships", "Allows the app to list groups, read basic properties, read and update the membership of "
       "the groups this app has access to without a signed-in user."),
    _r("5b567255-7703-4780-807c-7be8301ae99b", "Group.Read.All", "Read all groups",
       "Allows the app to read group properties and memberships, and read conversations for all groups, without "
       "a signed-in user."),
    _r("bf7b1a76-6e77-406b-b258-bf5c7720e98f", "Group.Create", "Create groups",
       "Allows the app to create groups without a signed-in user."),
    _r("62a82d76-70ea-41e2-9197-370581804d09", "Group.ReadWrite.All", "Read and write all groups",
       "Allows the app to create groups, read all group properties and memberships, update group properties and "
       "memberships, and delete groups, without a signed-in user."),
))

AZURE_AD_GRAPH = ResourceApp(AAD_GRAPH_APP_ID, "Windows Azure Active Directory", ("https://graph.windows.net",), (
    _r("5778995a-e1bf-45b8-affa-663a9f3f4d04", "Directory.Read.All", "Read directory data",
       "Allows the app to read data in your company or school directory, such as users, groups, and apps."),
    _r("78c8a3c8-a07e-4b9e-af1b-b5ccab50a175", "Directory.ReadWrite.All", "Read and write directory data",
       "Allows the app to read and write data in your company or school directory, such as users, and groups. "
       "Does not allow user or group deletion."),
    _r("1cda74f2-2616-4834-b122-5cb1b07f8a59", "Application.ReadWrite.All", "Read and write all applications",
       "Allows the app to create, read, update and delete applications and service principals without a "
       "signed-in user. Does not allow management of consent grants."),
))

FIRST_PARTY: tuple[ResourceApp, ...] = (
    MICROSOFT_GRAPH,
    AZURE_AD_GRAPH,
    ResourceApp("797f4846-ba00-4fd7-ba43-dac1f8f63013", "Windows Azure Service Management API",
                ("https://management.azure.com/", "https://management.core.windows.net/")),
    ResourceApp("e406a681-f3d4-42a8-90b6-c2b029497af1", "Azure Storage", ("https://storage.azure.com/",),
                host_suffixes=(".blob.core.windows.net", ".dfs.core.windows.net", ".queue.core.windows.net",
                               ".table.core.windows.net", ".file.core.windows.net")),
    ResourceApp("cfa8b339-82a2-471a-a3c9-0fc0be7a4093", "Azure Key Vault", ("https://vault.azure.net",)),
    ResourceApp("022907d3-0f1b-48f7-badc-1ba6abab6d66", "Azure SQL Database", ("https://database.windows.net/",)),
    ResourceApp("a232010e-820c-4083-83bb-3ace5fc29d0b", "Azure Cosmos DB", ("https://cosmos.azure.com",),
                host_suffixes=(".documents.azure.com",)),
    ResourceApp("e9f49c6b-5ce5-44c8-925d-015017e9f7ad", "Azure Data Lake", ("https://datalake.azure.net/",)),
)


def by_app_id(app_id: str) -> ResourceApp | None:
    app_id = (app_id or "").lower()
    return next((a for a in FIRST_PARTY if a.app_id == app_id), None)


def for_audience(audience: str) -> ResourceApp | None:
    """The first-party app a token audience names, or None."""
    return next((a for a in FIRST_PARTY if a.names(audience)), None)
