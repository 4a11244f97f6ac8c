"""Microsoft.Resources/deployments: template deployments at resource-group (and subscription) scope.

A deployment is preflighted, then run, resource by resource, through the ARM front door's
own routing (``ArmService.route``) as the caller: every resource a template declares gets
the same RBAC check, api-version check and resource-provider validation as a direct PUT,
and ``reference()`` reads resources with the caller's rights. The expression language is
``templates.py``.

Operations (api-version: any of Microsoft.Resources'):

* ``PUT .../deployments/{name}``: preflight errors answer at once (400 ``InvalidTemplate`` for
  the template language, 400 ``InvalidTemplateDeployment`` for parameters and authorization,
  as ARM's validation procedure does); otherwise ``201`` with ``provisioningState: Accepted``
  and ``Azure-AsyncOperation`` (polled once by azure-mgmt pollers and ``az``, which see the
  terminal state at the first poll because the emulator runs the template before answering),
  then ``GET`` shows ``Succeeded`` or ``Failed`` with ``DeploymentFailed`` and one detail per
  failed resource (``target`` its id, the resource provider's own code and message).
* ``POST .../deployments/{name}/validate``: the preflight alone (200 with the validated
  resources, or the preflight's error).
* ``GET .../deployments/{name}/operations[/{id}]``: one operation per resource.
* ``GET .../deployments[/{name}]``, ``DELETE`` (the history only), ``POST .../cancel``,
  ``POST .../exportTemplate``.

Shapes: the async status body ``{"status": "Failed", "error": {"code": "DeploymentFailed",
"target": <deployment id>, "message": "At least one resource deployment operation failed. Please
list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for
usage details.", "details": [...]}}`` and the preflight's ``InvalidTemplateDeployment``
"Authorization failed for template resource '<name>' of type '<type>'. The client ... does not
have permission to perform action '<action>' at scope '<id>'." are those Azure CLI users see
(quoted in Microsoft's deployment-error docs and in public deployment logs); ``az deployment
group create`` sends the template unquoted and with its comments (``JsonCTemplatePolicy`` in
azure-cli's resource module), so request bodies are read as JSON5.
"""
from __future__ import annotations

import copy as _copy
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import json5

from ..authorization import required_action
from .base import INTERNAL, Call, now_iso
from .errors import ArmError
from .ids import parse
from .resources import RESOURCES_API_VERSIONS
from .templates import Scope, TemplateError, check_static, evaluate_value

if TYPE_CHECKING:  # pragma: no cover
    from .app import ArmService

TYPE = "Microsoft.Resources/deployments"
OPERATIONS_TYPE = f"{TYPE}/operations"
MODES = ("Incremental", "Complete")
# keys of a template resource that are the template's, not the resource provider's
TEMPLATE_ONLY = {"type", "name", "apiversion", "dependson", "copy", "condition", "resources", "comments", "scope",
                 "metadata"}
_PARAM_TYPES = {"string": "String", "securestring": "SecureString", "int": "Int", "bool": "Bool",
                "object": "Object", "secureobject": "SecureObject", "array": "Array"}
DEBUG_LINK = "https://aka.ms/arm-deployment-operations"


def is_deployments_path(ref) -> bool:
    return bool(ref.namespace) and ref.namespace.lower() == "microsoft.resources" and \
        bool(ref.types) and ref.types[0].lower() == "deployments"


def parse_jsonc(raw: bytes) -> Any:
    """A deployment body that is not plain JSON, as ARM reads it: JSON with comments, unquoted keys
    and multi-line strings (what ``az deployment group create`` sends); bounded like any body."""
    from ..bodies import MAX_JSON_DEPTH, BodyError, json_depth
    try:
        value = json5.loads(raw.decode("utf-8-sig"), strict=False)
    except RecursionError:
        raise BodyError("too_deep", f"The JSON nests more than {MAX_JSON_DEPTH} levels.") from None
    except ValueError as e:  # includes UnicodeDecodeError
        raise BodyError("invalid_json", str(e)) from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise BodyError("too_deep", f"The JSON nests more than {MAX_JSON_DEPTH} levels.")
    return value


def _invalid_template(message: str) -> ArmError:
    return ArmError(400, "InvalidTemplate", f"Deployment template validation failed: '{message}'.")


def _tracking_failure(name: str, details: list[dict]) -> ArmError:
    return ArmError(400, "InvalidTemplateDeployment",
                    f"The template deployment '{name}' is not valid according to the validation procedure. The "
                    f"tracking id is '{uuid.uuid4()}'. See inner errors for details.", details=details)


def _duration(seconds: float) -> str:
    return f"PT{seconds:.7f}S"


# ---------------------------------------------------------------------------------- planning

@dataclass
class Planned:
    """One resource of a template, its name, type and id known at preflight."""
    index: int
    raw: dict
    scope: Scope
    type: str
    name: str  # full name (parent/child for nested resources)
    api_version: str
    id: str
    depends_on: list[str] = field(default_factory=list)  # evaluated dependsOn entries
    parent: "Planned | None" = None
    after: set[int] = field(default_factory=set)  # indexes this one waits for
    symbolic: str | None = None


class Engine:
    """Preflight and run one template."""

    def __init__(self, arm: "ArmService", call: Call, deployment_id: str, name: str, props: dict):
        self.arm, self.call, self.id, self.name = arm, call, deployment_id, name
        self.props = props
        self.template = props.get("template")
        ref = call.ref
        self.rg_id = f"/subscriptions/{ref.subscription}/resourceGroups/{ref.resource_group}" \
            if ref.resource_group else None
        self.planned: list[Planned] = []
        self.parameters_out: dict = {}
        self.deployed: dict[str, dict] = {}  # lower id -> rendered resource

    # -- preflight -------------------------------------------------------------------------------
    def preflight(self) -> None:
        t = self.template
        if "templateLink" in self.props and t is None:
            raise ArmError(400, "InvalidContentLink", "The emulator cannot download linked templates: give the "
                                                      "template inline (properties.template).")
        if not isinstance(t, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                         "deserialized: 'properties.template' must be an object.")
        mode = self.props.get("mode", "Incremental")
        # ARM reads the enum without regard to case: az vm create sends 'incremental'
        canonical = {m.lower(): m for m in MODES}.get(str(mode).lower()) if isinstance(mode, str) else None
        if canonical is not None:
            mode = self.props["mode"] = canonical
        if str(mode) not in MODES:
            raise ArmError(400, "InvalidDeploymentMode" if isinstance(mode, str) else "InvalidRequestContent",
                           f"The deployment mode '{mode}' is not valid. Allowed values are 'Incremental' and "
                           f"'Complete'.")
        if str(t.get("languageVersion", "1.0")).split("-")[0] not in ("1.0",):
            raise _invalid_template(f"The template language version '{t.get('languageVersion')}' is not "
                                    f"supported by the emulator; use the classic template format")
        rg = self.call.state.get(self.rg_id) if self.rg_id else None
        from .catalog import resource_type
        rg_doc = resource_type("Microsoft.Resources/subscriptions/resourceGroups").render(self.call, rg) if rg else None
        scope = Scope(self.call.state.subscription_id, self.call.state.tenant_id, rg_doc,
                      deployment={"name": self.name, "properties": {"templateLink": None, "mode": mode,
                                                                     "parameters": {}}},
                      variable_defs={k.lower(): v for k, v in (t.get("variables") or {}).items()},
                      resource_ids=self._id_of_name)
        scope.allow_reference = False
        scope.parameters = self._parameters(t, self.props.get("parameters") or {}, scope)
        scope.reference = self.reference
        self.scope = scope
        try:
            for section in ("variables", "resources", "outputs"):
                check_static(t.get(section) or {}, f"template {section[:-1]}")
            self._plan(t.get("resources") or [], scope, None)
        except TemplateError as e:
            raise _invalid_template(e.message) from None
        self._order()
        self._authorize()

    def _parameters(self, t: dict, given: dict, scope: Scope) -> dict:
        defs = t.get("parameters") or {}
        if not isinstance(defs, dict) or not isinstance(given, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                         "deserialized: 'parameters' must be an object.")
        known = {k.lower(): k for k in defs}
        extra = [k for k in given if k.lower() not in known]
        if extra:
            raise _invalid_template(f"The template parameters '{', '.join(extra)}' in the parameters file are not "
                                    f"valid; they are not present in the original template and can therefore not be "
                                    f"provided at deployment time. The only supported parameters for this template "
                                    f"are '{', '.join(defs)}'. Please see https://aka.ms/arm-pass-parameter-values "
                                    f"for usage details")
        given_l = {k.lower(): v for k, v in given.items()}
        values: dict[str, Any] = {}
        scope.parameters = values
        for name, d in defs.items():
            d = d or {}
            ptype = str(d.get("type", "")).lower()
            if ptype not in _PARAM_TYPES:
                raise _invalid_template(f"The template parameter '{name}' has type '{d.get('type')}', which is "
                                        f"not one of {', '.join(_PARAM_TYPES.values())}")
            if name.lower() in given_l:
                entry = given_l[name.lower()]
                if not isinstance(entry, dict) or "value" not in entry:
                    if isinstance(entry, dict) and "reference" in entry:
                        raise _invalid_template(f"The template parameter '{name}' references a Key Vault secret, "
                                                f"which the emulator does not resolve")
                    raise _invalid_template(f"The template parameter '{name}' must be given as an object with a "
                                            f"'value'")
                value = entry["value"]
            elif "defaultValue" in d:
                try:
                    value = evaluate_value(d["defaultValue"], scope)
                except TemplateError as e:
                    raise _invalid_template(e.message) from None
            else:
                raise _invalid_template(f"The value for the template parameter '{name}' is not provided. Please see "
                                        f"https://aka.ms/arm-create-parameter-file for usage details")
            value = self._check_type(name, ptype, value)
            allowed = d.get("allowedValues")
            if allowed is not None and not _in_allowed(value, allowed):
                raise _invalid_template(f"The provided value '{value}' for the template parameter '{name}' is not "
                                        f"valid. The parameter value is not part of the allowed value(s): "
                                        f"'{','.join(str(a) for a in allowed)}'")
            for key, ok in (("minLength", lambda v, n: len(v) >= n), ("maxLength", lambda v, n: len(v) <= n),
                            ("minValue", lambda v, n: v >= n), ("maxValue", lambda v, n: v <= n)):
                if key in d and isinstance(value, (str, list, int)) and not ok(value, d[key]):
                    raise _invalid_template(f"The provided value for the template parameter '{name}' is not valid: "
                                            f"it violates {key} {d[key]}")
            values[name.lower()] = value
            self.parameters_out[name] = {"type": _PARAM_TYPES[ptype]} if ptype.startswith("secure") else \
                {"type": _PARAM_TYPES[ptype], "value": value}
        return values

    @staticmethod
    def _check_type(name: str, ptype: str, value: Any) -> Any:
        want = {"string": str, "securestring": str, "int": int, "bool": bool, "object": dict,
                "secureobject": dict, "array": list}[ptype]
        if ptype == "int" and isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
        if ptype == "bool" and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            expected = {"string": "String, Uri", "securestring": "String, Uri", "int": "Integer", "bool": "Boolean",
                        "object": "Object", "secureobject": "Object", "array": "Array"}[ptype]
            actual = type(value).__name__
            actual = {"str": "String", "int": "Integer", "bool": "Boolean", "dict": "Object", "list": "Array",
                      "NoneType": "Null", "float": "Float"}.get(actual, actual)
            raise _invalid_template(f"Template parameter JToken type is not valid. Expected '{expected}'. Actual "
                                    f"'{actual}'. Please see https://aka.ms/arm-create-parameter-file for usage "
                                    f"details")
        return value

    def _plan(self, resources: list, scope: Scope, parent: Planned | None) -> None:
        if not isinstance(resources, list):
            raise TemplateError("The template 'resources' must be an array.")
        for raw in resources:
            if not isinstance(raw, dict):
                raise TemplateError("Each template resource must be an object.")
            keys = {k.lower(): k for k in raw}
            for required in ("type", "name", "apiversion"):
                if required not in keys:
                    what = raw.get(keys.get("name", "name"), "?")
                    raise TemplateError(f"The template resource '{what}' is missing the required property "
                                        f"'{required if required != 'apiversion' else 'apiVersion'}'")
            loop = raw.get(keys["copy"]) if "copy" in keys else None
            if loop is not None:
                if not isinstance(loop, dict) or "name" not in loop or "count" not in loop:
                    raise TemplateError("The template resource copy must have a 'name' and a 'count'.")
                count = evaluate_value(loop["count"], scope)
                if not isinstance(count, int) or count < 0 or count > 800:
                    raise TemplateError(f"The copy count '{count}' must be an integer from 0 to 800.")
                lname = str(loop["name"])
                for i in range(count):
                    s = scope.child(current_loop=lname.lower())
                    s.copy_index[lname.lower()] = i
                    self._plan_one(raw, keys, s, parent, lname)
            else:
                self._plan_one(raw, keys, scope, parent, None)

    def _plan_one(self, raw: dict, keys: dict, scope: Scope, parent: Planned | None, loop: str | None) -> None:
        if "condition" in keys:
            cond = evaluate_value(raw[keys["condition"]], scope)
            if not isinstance(cond, bool):
                raise TemplateError(f"The template resource condition must be a boolean, not '{cond}'.")
            if not cond:
                return
        rtype = evaluate_value(raw[keys["type"]], scope)
        name = evaluate_value(raw[keys["name"]], scope)
        api = evaluate_value(raw[keys["apiversion"]], scope)
        if not all(isinstance(v, str) and v for v in (rtype, name, api)):
            raise TemplateError(f"The template resource '{name}' must have a string type, name and apiVersion.")
        if parent is not None:
            if "/" not in rtype or "." not in rtype.split("/")[0]:
                rtype = f"{parent.type}/{rtype}"
            if name.count("/") < parent.name.count("/") + 1:
                name = f"{parent.name}/{name}"
        rid = self._resource_id(rtype, name, raw.get(keys["scope"]) if "scope" in keys else None, scope)
        deps = evaluate_value(raw.get(keys["dependson"], []) if "dependson" in keys else [], scope)
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise TemplateError(f"The template resource '{name}' has a 'dependsOn' that is not an array of strings.")
        p = Planned(len(self.planned), raw, scope, rtype, name, api, rid, deps, parent)
        self.planned.append(p)
        nested = raw.get(keys["resources"]) if "resources" in keys else None
        if nested:
            self._plan(nested, scope, p)

    def _resource_id(self, rtype: str, name: str, scope_expr, scope: Scope) -> str:
        segs = rtype.split("/")
        names = name.split("/")
        base = self.rg_id or f"/subscriptions/{self.call.state.subscription_id}"
        if scope_expr is not None:
            target = evaluate_value(scope_expr, scope)
            if not isinstance(target, str):
                raise TemplateError(f"The template resource '{name}' has a 'scope' that is not a string.")
            base = target if target.startswith("/") else f"{base}/providers/{target}"
        # the extension form of older templates: "NS/type/providers/roleAssignments", "res/Microsoft.Authorization/guid"
        if "providers" in [s.lower() for s in segs]:
            at = [s.lower() for s in segs].index("providers")
            host_type, ext_types = segs[:at], segs[at + 1:]
            host_names = names[:len(host_type) - 1]
            ext_ns, ext_names = names[len(host_type) - 1], names[len(host_type):]
            if len(ext_types) != len(ext_names):
                raise TemplateError(f"The template resource '{name}' of type '{rtype}' has an incorrect segment "
                                    f"length. A nested resource type must have identical number of segments as its "
                                    f"resource name.")
            host = f"{base}/providers/{host_type[0]}/" + "/".join(f"{t}/{n}" for t, n in zip(host_type[1:], host_names))
            return f"{host}/providers/{ext_ns}/" + "/".join(f"{t}/{n}" for t, n in zip(ext_types, ext_names))
        if len(segs) - 1 != len(names) or any(not n for n in names):
            raise TemplateError(f"The template resource '{name}' for type '{rtype}' has incorrect segment lengths. "
                                f"A nested resource type must have identical number of segments as its resource "
                                f"name. A root resource type must have segment length one greater than its "
                                f"resource name.")
        if rtype.lower() in ("microsoft.resources/resourcegroups",) and self.rg_id is None:
            return f"/subscriptions/{self.call.state.subscription_id}/resourceGroups/{name}"
        return f"{base}/providers/{segs[0]}/" + "/".join(f"{t}/{n}" for t, n in zip(segs[1:], names))

    def _id_of_name(self, name: str) -> str | None:
        found = [p for p in self.planned if p.name.lower() == name.lower()]
        return found[0].id if len(found) == 1 else None

    def _resolve(self, entry: str, p: Planned) -> list[int]:
        e = entry.lower().rstrip("/")
        hits = [q.index for q in self.planned
                if q.id.lower() == e or f"{q.type}/{q.name}".lower() == e or q.name.lower() == e
                or e.endswith("/" + f"{q.type}/{q.name}".lower())]
        if not hits:
            loops = [q.index for q in self.planned if q.raw.get("copy") and
                     str(q.raw["copy"].get("name", "")).lower() == e]
            hits = loops
        if not hits:
            raise _invalid_template(f"The resource '{entry}' is not defined in the template. Please see "
                                    f"https://aka.ms/arm-syntax for usage details")
        return [h for h in hits if h != p.index]

    def _order(self) -> None:
        for p in self.planned:
            for d in p.depends_on:
                p.after.update(self._resolve(d, p))
            if p.parent is not None:
                p.after.add(p.parent.index)
        order, state = [], {}

        def visit(p: Planned, trail: list[str]):
            mark = state.get(p.index)
            if mark == "done":
                return
            if mark == "visiting":
                raise _invalid_template(f"Circular dependency detected on resource: '{p.id}'. Please see "
                                        f"https://aka.ms/arm-syntax-resources for usage details")
            state[p.index] = "visiting"
            for i in sorted(p.after):
                visit(self.planned[i], trail + [p.name])
            state[p.index] = "done"
            order.append(p)

        for p in self.planned:
            visit(p, [])
        self.ordered = order

    def _authorize(self) -> None:
        problems = []
        for p in self.planned:
            if p.type.lower() == TYPE.lower():
                continue  # a nested deployment is authorized when it runs
            action = "Microsoft.Authorization/roleAssignments/write" if p.type.lower().endswith(
                "/roleassignments") else required_action("PUT", _own_type(p.id))
            if not self.call.can(action, p.id):
                client = self.call.claims.get("appid", self.call.caller_oid)
                problems.append(f"Authorization failed for template resource '{p.name}' of type '{p.type}'. The "
                                f"client '{client}' with object id '{self.call.caller_oid}' does not have permission "
                                f"to perform action '{action}' at scope '{p.id}'.")
        if len(problems) == 1:
            raise ArmError(400, "InvalidTemplateDeployment",
                           f"The template deployment failed with error: '{problems[0]}'.")
        if problems:
            raise ArmError(400, "InvalidTemplateDeployment",
                           f"Deployment failed with multiple errors: '{':'.join(problems)}'")

    # -- run -----------------------------------------------------------------------------------
    def reference(self, target: str, api_version: str | None, full: bool) -> Any:
        rid = target if target.startswith("/") else self._id_of_name(target)
        planned = next((p for p in self.planned if rid and p.id.lower() == rid.lower()), None)
        if rid is None:
            raise TemplateError(f"The template reference '{target}' is not valid: could not find template resource "
                                f"or resource copy with this name. Please see https://aka.ms/arm-function-reference "
                                f"for usage details.")
        version = api_version or (planned.api_version if planned else None)
        if not version:
            raise TemplateError(f"The template function 'reference' needs an api-version for '{target}', which "
                                f"this template does not deploy.")
        status, doc = self._send("GET", rid, version, None)
        return doc if full else (doc or {}).get("properties", {})

    def _send(self, method: str, rid: str, api_version: str, body: Any) -> tuple[int, Any]:
        inner = Call(self.call.emu, method, parse(rid), api_version, {"api-version": api_version}, body,
                     self.call.claims)
        try:
            return self.arm.route(inner)
        except ArmError as e:
            raise _ResourceFailed(e) from None

    def run(self) -> tuple[list[dict], dict, dict | None]:
        ops, failures = [], []
        failed: set[int] = set()
        for p in self.planned:  # resource bodies may read deployed resources; names and dependsOn may not
            p.scope.allow_reference = True
        for p in self.ordered:
            started = time.monotonic()
            op = {"operationId": _op_id(self.id, p.id), "target": p, "started": now_iso()}
            if p.after & failed:
                continue  # not attempted: something it waits for failed
            try:
                body = {k: evaluate_value(v, p.scope) for k, v in p.raw.items() if k.lower() not in TEMPLATE_ONLY}
                existed = self.call.state.get(p.id) is not None
                status, out = self._send("PUT", p.id, p.api_version, body)
                self.deployed[p.id.lower()] = out if isinstance(out, dict) else {}
                op.update(state="Succeeded", status="OK" if existed or status == 200 else "Created",
                          response=out)
            except TemplateError as e:
                failed.add(p.index)
                err = {"code": "InvalidTemplate", "target": p.id,
                       "message": f"Unable to process template language expressions for resource '{p.id}' at line "
                                  f"'1' and column '1'. '{e.message}'"}
                op.update(state="Failed", status="BadRequest", error=err)
                failures.append(err)
            except _ResourceFailed as f:
                failed.add(p.index)
                err = {"code": f.error.code, "target": p.id, "message": f.error.message}
                if f.error.details:
                    err["details"] = f.error.details
                op.update(state="Failed", status=_STATUS_TEXT.get(f.error.status, str(f.error.status)), error=err)
                failures.append(err)
            op["duration"] = _duration(time.monotonic() - started)
            ops.append(op)
        outputs: dict = {}
        if not failures:
            if self.props.get("mode") == "Complete":
                self._complete_mode_deletes()
            try:
                outputs = self._outputs()
            except TemplateError as e:
                failures.append({"code": "DeploymentOutputEvaluationFailed", "message":
                                 f"Unable to evaluate template outputs. Please see error details and deployment "
                                 f"operations. {e.message}"})
            except _ResourceFailed as f:
                failures.append({"code": f.error.code, "message": f.error.message})
        error = None
        if failures:
            error = {"code": "DeploymentFailed", "target": self.id,
                     "message": f"At least one resource deployment operation failed. Please list deployment "
                                f"operations for details. Please see {DEBUG_LINK} for usage details.",
                     "details": failures}
        return ops, outputs, error

    def _outputs(self) -> dict:
        out = {}
        scope = self.scope.child()
        scope.allow_reference = True
        for name, d in (self.template.get("outputs") or {}).items():
            d = d or {}
            if "condition" in d and evaluate_value(d["condition"], scope) is not True:
                continue
            ptype = str(d.get("type", "")).lower()
            value = evaluate_value(d.get("value"), scope)
            out[name] = {"type": _PARAM_TYPES.get(ptype, str(d.get("type", "")))}
            if not ptype.startswith("secure"):
                out[name]["value"] = value
        return out

    def _complete_mode_deletes(self) -> None:
        if not self.rg_id:
            return
        keep = {p.id.lower() for p in self.planned}
        for res in list(self.call.state.children(self.rg_id)):
            rid = res["id"]
            if rid.lower() in keep or res["type"].lower().startswith(TYPE.lower()) or \
                    rid.rsplit("/providers/", 1)[0].lower() != self.rg_id.lower():
                continue
            if self.call.state.get(rid) is None:
                continue
            from .catalog import resource_type
            rt = resource_type(res["type"])
            version = (rt.api_versions or RESOURCES_API_VERSIONS)[-1]
            try:
                self._send("DELETE", rid, version, None)
            except _ResourceFailed:
                pass


class _ResourceFailed(Exception):
    def __init__(self, error: ArmError):
        super().__init__(error.message)
        self.error = error


_STATUS_TEXT = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                500: "InternalServerError"}


def _own_type(rid: str) -> str:
    return parse(rid).type


def _op_id(deployment_id: str, rid: str) -> str:
    return hashlib.sha1(f"{deployment_id.lower()}|{rid.lower()}".encode()).hexdigest()[:16].upper()


def _in_allowed(value, allowed) -> bool:
    if isinstance(value, str):
        return any(isinstance(a, str) and a.lower() == value.lower() for a in allowed)
    if isinstance(value, list):
        return all(_in_allowed(v, allowed) for v in value)
    return value in allowed


# ---------------------------------------------------------------------------------- the resource

class Deployments:
    """Routes every request under ``.../providers/Microsoft.Resources/deployments``."""

    def __init__(self, arm: "ArmService"):
        self.arm = arm

    def route(self, call: Call) -> tuple[int, Any]:
        ref = call.ref
        self.arm._check_api_version(call, _VERSIONS)
        if ref.resource_group:
            self.arm._require_group(call)
        if len(ref.names) == 0:
            if call.method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.method}' is not supported.")
            return self.list(call, ref.scope)
        dep_id = _deployment_id(ref)
        if len(ref.types) == 1 and ref.tail is None:
            return self.resource(call, dep_id)
        if len(ref.types) == 1 and ref.tail is not None:
            tail = ref.tail.lower()
            if tail == "operations" and call.method == "GET":
                call.authorize(f"{OPERATIONS_TYPE}/read", dep_id)
                dep = self._get(call, dep_id)
                return 200, {"value": [self._render_op(dep, o) for o in dep[INTERNAL].get("operations", [])]}
            if call.method == "POST" and tail in ("validate", "cancel", "exporttemplate"):
                action = {"validate": "validate", "cancel": "cancel", "exporttemplate": "exportTemplate"}[tail]
                call.authorize(f"{TYPE}/{action}/action", dep_id)
                return getattr(self, f"_{tail}")(call, dep_id)
            raise ArmError(404 if call.method == "POST" else 405,
                           "NotFound" if call.method == "POST" else "MethodNotAllowed",
                           f"The operation '{ref.tail}' is not supported on deployments.")
        sub = ref.types[1].lower()
        if sub == "operations" and len(ref.names) == 2 and call.method == "GET":
            call.authorize(f"{OPERATIONS_TYPE}/read", dep_id)
            dep = self._get(call, dep_id)
            op = next((o for o in dep[INTERNAL].get("operations", []) if o["operationId"].lower() ==
                       ref.names[1].lower()), None)
            if op is None:
                raise ArmError(404, "DeploymentOperationNotFound",
                               f"Deployment operation '{ref.names[1]}' could not be found.")
            return 200, self._render_op(dep, op)
        if sub == "operationstatuses" and len(ref.names) == 2 and call.method == "GET":
            call.authorize(f"{TYPE}/operationstatuses/read", dep_id)
            dep = self._get(call, dep_id)
            state = dep["properties"]["provisioningState"]
            body: dict = {"status": state}
            if dep["properties"].get("error"):
                body["error"] = dep["properties"]["error"]
            return 200, body
        raise ArmError(404, "NotFound", f"The resource path '{ref.path}' is not supported.")

    # -- the deployment itself -------------------------------------------------------------------
    def _get(self, call: Call, dep_id: str) -> dict:
        dep = call.state.get(dep_id)
        if dep is None:
            raise ArmError(404, "DeploymentNotFound", f"Deployment '{dep_id.rsplit('/', 1)[-1]}' could not be "
                                                      f"found.")
        return dep

    def list(self, call: Call, scope: str) -> tuple[int, dict]:
        call.authorize(f"{TYPE}/read", scope)
        prefix = f"{scope.rstrip('/')}/providers/{TYPE}/".lower()
        items = [r for k, r in call.state.resources.items() if k.startswith(prefix) and k.count("/") ==
                 prefix.count("/")]
        return 200, {"value": [self.render(call, r) for r in items]}

    def resource(self, call: Call, dep_id: str) -> tuple[int, Any]:
        method = call.method
        if method == "HEAD":
            call.authorize(f"{TYPE}/read", dep_id)
            return (204 if call.state.get(dep_id) else 404), None
        call.authorize(required_action(method, TYPE) if method != "POST" else f"{TYPE}/write", dep_id)
        if method == "GET":
            return 200, self.render(call, self._get(call, dep_id))
        if method == "DELETE":
            if call.state.delete(dep_id) is None:
                return 204, None
            return 202, None
        if method == "PUT":
            return self._put(call, dep_id)
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported on deployments.")

    def _body(self, call: Call) -> dict:
        body = call.body
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                         "deserialized: 'properties' is required.")
        if call.ref.resource_group is None and not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        return body

    def _engine(self, call: Call, dep_id: str, body: dict) -> Engine:
        eng = Engine(self.arm, call, dep_id, dep_id.rsplit("/", 1)[-1], body["properties"])
        eng.preflight()
        return eng

    def _put(self, call: Call, dep_id: str) -> tuple[int, Any]:
        body = self._body(call)
        existed = call.state.get(dep_id) is not None
        started = time.monotonic()
        eng = self._engine(call, dep_id, body)
        correlation = str(uuid.uuid4())
        ops, outputs, error = eng.run()
        props = body["properties"]
        dep = {"id": dep_id, "name": dep_id.rsplit("/", 1)[-1], "type": TYPE,
               "properties": {"templateHash": _template_hash(eng.template), "parameters": eng.parameters_out,
                              "mode": props.get("mode", "Incremental"),
                              "provisioningState": "Failed" if error else "Succeeded",
                              "timestamp": now_iso(), "duration": _duration(time.monotonic() - started),
                              "correlationId": correlation, "providers": _providers(eng.planned),
                              "dependencies": _dependencies(eng), "outputs": outputs,
                              "outputResources": [{"id": p.id} for p in eng.planned
                                                  if p.id.lower() in eng.deployed]},
               INTERNAL: {"created": now_iso(), "operations": [_store_op(o) for o in ops],
                          "template": eng.template}}
        if body.get("location"):
            dep["location"] = str(body["location"]).replace(" ", "").lower()
        if body.get("tags"):
            dep["tags"] = body["tags"]
        if error:
            dep["properties"]["error"] = error
            dep["properties"].pop("outputs")
        call.state.put(dep)
        op_id = str(uuid.uuid4()).replace("-", "")[:16].upper()
        call.headers.update({
            "Azure-AsyncOperation": f"{call.base_url}{dep_id}/operationStatuses/{op_id}?api-version={call.api_version}",
            "Retry-After": "1"})
        doc = self.render(call, dep)
        doc["properties"] = {k: v for k, v in doc["properties"].items()
                             if k not in ("outputs", "outputResources", "error", "duration")}
        doc["properties"]["provisioningState"] = "Accepted"
        return (200 if existed else 201), doc

    def _validate(self, call: Call, dep_id: str) -> tuple[int, Any]:
        body = self._body(call)
        eng = self._engine(call, dep_id, body)
        return 200, {"id": dep_id, "name": dep_id.rsplit("/", 1)[-1], "type": TYPE,
                     "properties": {"templateHash": _template_hash(eng.template), "parameters": eng.parameters_out,
                                    "mode": body["properties"].get("mode", "Incremental"),
                                    "provisioningState": "Succeeded", "timestamp": now_iso(), "duration": "PT0S",
                                    "correlationId": str(uuid.uuid4()), "providers": _providers(eng.planned),
                                    "dependencies": _dependencies(eng),
                                    "validatedResources": [{"id": p.id} for p in eng.planned]}}

    def _cancel(self, call: Call, dep_id: str) -> tuple[int, Any]:
        dep = self._get(call, dep_id)
        raise ArmError(409, "DeploymentCannotBeCancelled",
                       f"The deployment '{dep['name']}' cannot be cancelled because it is not running (it is "
                       f"'{dep['properties']['provisioningState']}').")

    def _exporttemplate(self, call: Call, dep_id: str) -> tuple[int, Any]:
        dep = self._get(call, dep_id)
        return 200, {"template": _copy.deepcopy(dep[INTERNAL].get("template"))}

    def render(self, call: Call, dep: dict) -> dict:
        return {k: v for k, v in dep.items() if k != INTERNAL}

    def _render_op(self, dep: dict, op: dict) -> dict:
        props = {"provisioningOperation": "Create", "provisioningState": op["state"], "timestamp": op["timestamp"],
                 "duration": op["duration"], "trackingId": op["trackingId"], "statusCode": op["status"],
                 "targetResource": op["targetResource"]}
        if op.get("error"):
            props["statusMessage"] = {"status": "Failed", "error": op["error"]}
        return {"id": f"{dep['id']}/operations/{op['operationId']}", "operationId": op["operationId"],
                "properties": props}


# Microsoft.Resources' versions, and the deployments-only ones azure-mgmt-resource-deployments 2 sends
DEPLOYMENT_API_VERSIONS = tuple(sorted(set(RESOURCES_API_VERSIONS) | {"2025-10-01", "2026-06-01"}))
_VERSIONS = type("DeploymentVersions", (), {"api_versions": DEPLOYMENT_API_VERSIONS, "type": TYPE})()


def _deployment_id(ref) -> str:
    return f"{ref.scope.rstrip('/')}/providers/{TYPE}/{ref.names[0]}"


def _store_op(op: dict) -> dict:
    p: Planned = op["target"]
    return {"operationId": op["operationId"], "state": op["state"], "status": op["status"],
            "timestamp": now_iso(), "duration": op["duration"], "trackingId": str(uuid.uuid4()),
            "targetResource": {"id": p.id, "resourceType": p.type, "resourceName": p.name},
            "error": op.get("error")}


def _template_hash(template: Any) -> str:
    return str(int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16], 16))


def _providers(planned: list[Planned]) -> list[dict]:
    out: dict[str, dict] = {}
    for p in planned:
        ns, _, rest = p.type.partition("/")
        entry = out.setdefault(ns.lower(), {"namespace": ns, "resourceTypes": []})
        if rest not in [r["resourceType"] for r in entry["resourceTypes"]]:
            entry["resourceTypes"].append({"resourceType": rest, "locations": []})
    return list(out.values())


def _dependencies(eng: Engine) -> list[dict]:
    out = []
    for p in eng.planned:
        if p.after:
            deps = [eng.planned[i] for i in sorted(p.after)]
            out.append({"id": p.id, "resourceType": p.type, "resourceName": p.name,
                        "dependsOn": [{"id": d.id, "resourceType": d.type, "resourceName": d.name} for d in deps]})
    return out
