"""HCP Terraform / TFE workspaces, workspace variables and variable sets, for the TFE sandbox.

A mixin of :class:`tests.sandbox.tfe.TFE` (the rest of that module is team tokens). Shapes
follow the OpenAPI spec shipped in go-tfe v2 (``v2/openapi/spec.json``, HEAD 0fa6b099) and
pytfe 1.5.0's ``variables``, ``variable_sets`` and ``variable_set_variables`` calls:

* a variable renders ``key``, ``value``, ``sensitive``, ``category`` (``terraform`` or
  ``env``), ``hcl``, ``created-at``, ``description`` and ``version-id``; there is no
  ``updated-at``. ``version-id`` changes on every update: it is how a writer confirms that its
  write landed, since a **sensitive value is write-only** (every read renders ``value: null``);
* ``GET /workspaces/:id/vars`` is one unpaginated list (pytfe relies on it, python-tfe#181);
  variable-set lists page like every other list;
* a variable set renders ``name``, ``description``, ``global``, ``priority``, ``updated-at``,
  ``var-count``, ``workspace-count`` and its ``workspaces`` and ``vars`` relationships.

Choices where the sources are silent: a missing key or a category outside ``terraform``/``env``
answers 422 naming the attribute; a second variable with the same key and category in one
workspace or set answers 422 "Key has already been taken"; a sensitive variable cannot be made
non-sensitive (422); a workspace or set the caller cannot see answers 404. Owners (the admin
user, the owners team) do everything; another team sees a workspace only through
``grant_workspace_access`` (``variables`` ``read`` or ``write``; a write without ``write``
answers 403) and variable sets only with ``grant_manage_varsets``.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from flask import Flask, Response, g, request

from .core import isoformat_ms, random_token

HEX = string.hexdigits[:16]
CATEGORIES = ("terraform", "env")
KEY = "/data/attributes/key"
CATEGORY = "/data/attributes/category"
SENSITIVE = "/data/attributes/sensitive"


@dataclass
class Variable:
    id: str
    key: str
    value: str
    category: str
    hcl: bool
    sensitive: bool
    description: str | None
    created_at: datetime
    version_id: str
    owner: tuple[str, str]      # ("workspaces", ws-…) or ("varsets", varset-…)


@dataclass
class Workspace:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    variables: dict[str, Variable] = field(default_factory=dict)


@dataclass
class VariableSet:
    id: str
    name: str
    description: str | None
    global_: bool
    priority: bool
    created_at: datetime
    updated_at: datetime
    workspace_ids: list[str] = field(default_factory=list)
    variables: dict[str, Variable] = field(default_factory=dict)


def new_version() -> str:
    return random_token(32, HEX)


class WorkspaceVariables:
    """Workspaces, their variables and variable sets (state, helpers, routes, views)."""

    # Provided by TFE: ``name``, ``organization``, ``now``, ``json``, ``empty``, ``_page``,
    # ``_attributes``, ``_body``, ``_is_owner``, ``_require_org`` and ``ApiError``.

    def _variable_routes(self, app: Flask, api: str) -> None:
        var = "/<var_id>"
        routes: dict[str, dict[str, Callable[..., Response]]] = {
            "/organizations/<org>/workspaces": {"GET": self._list_workspaces},
            "/organizations/<org>/workspaces/<name>": {"GET": self._show_workspace_by_name},
            "/workspaces/<ws_id>": {"GET": self._show_workspace},
            "/workspaces/<ws_id>/vars": {"GET": self._list_vars, "POST": self._create_var},
            "/workspaces/<ws_id>/vars" + var: {
                "GET": self._show_var, "PATCH": self._update_var, "DELETE": self._delete_var},
            "/workspaces/<ws_id>/varsets": {"GET": self._list_workspace_varsets},
            "/organizations/<org>/varsets": {"GET": self._list_varsets,
                                             "POST": self._create_varset},
            "/varsets/<varset_id>": {"GET": self._show_varset, "PATCH": self._update_varset,
                                     "DELETE": self._delete_varset},
            "/varsets/<varset_id>/relationships/vars": {"GET": self._list_varset_vars,
                                                        "POST": self._create_varset_var},
            "/varsets/<varset_id>/relationships/vars" + var: {
                "GET": self._show_varset_var, "PATCH": self._update_varset_var,
                "DELETE": self._delete_varset_var},
            "/varsets/<varset_id>/relationships/workspaces": {"POST": self._apply_varset,
                                                              "DELETE": self._remove_varset},
        }
        # One rule per path: werkzeug compiles each rule, and a sandbox starts per test.
        for number, (path, views) in enumerate(routes.items()):
            app.add_url_rule(api + path, endpoint=f"variables{number}", methods=list(views),
                             view_func=lambda _views=views, **kwargs:
                             _views[request.method](**kwargs))

    def _variable_setup(self) -> None:
        self._workspaces: dict[str, Workspace] = {}
        self._varsets: dict[str, VariableSet] = {}
        #: team id → {workspace id: "read" | "write"}; team ids that manage variable sets
        self._workspace_access: dict[str, dict[str, str]] = {}
        self._varset_managers: set[str] = set()

    # -- public helpers for tests (no HTTP) --------------------------------------------------
    def add_workspace(self, name: str) -> str:
        """Create a workspace; return its ``ws-…`` id."""
        if self.workspace_by_name(name) is not None:
            raise ValueError(f"workspace {name!r} exists")
        now = self.now()
        workspace = Workspace(self._new_id("ws"), name, now, now)
        self._workspaces[workspace.id] = workspace
        return workspace.id

    def add_varset(self, name: str, workspaces: list[str] = (), global_: bool = False,
                   description: str | None = None) -> str:
        """Create a variable set applied to the named workspaces; return its id."""
        if self.varset_by_name(name) is not None:
            raise ValueError(f"variable set {name!r} exists")
        now = self.now()
        varset = VariableSet(self._new_id("varset"), name, description, global_, False, now,
                             now, [self.workspace_by_name(ws) for ws in workspaces])
        self._varsets[varset.id] = varset
        return varset.id

    def add_variable(self, key: str, value: str, workspace: str | None = None,
                     varset: str | None = None, category: str = "env",
                     sensitive: bool = True, hcl: bool = False,
                     description: str | None = None) -> str:
        """Seed a variable in a workspace or a variable set (by name); return its id."""
        holder = self._holder_by_name(workspace, varset)
        variable = self._new_variable(holder, {"key": key, "value": value,
                                               "category": category, "sensitive": sensitive,
                                               "hcl": hcl, "description": description})
        return variable.id

    def workspace_by_name(self, name: str) -> str | None:
        return next((ws.id for ws in self._workspaces.values() if ws.name == name), None)

    def varset_by_name(self, name: str) -> str | None:
        return next((vs.id for vs in self._varsets.values() if vs.name == name), None)

    def variable(self, key: str, workspace: str | None = None, varset: str | None = None,
                 category: str | None = None) -> dict | None:
        """A variable by key, with its stored ``value`` (the oracle a sensitive read hides):
        ``{"id", "key", "value", "category", "sensitive", "hcl", "description",
        "version-id"}``, else None."""
        holder = self._holder_by_name(workspace, varset)
        for variable in holder.variables.values():
            if variable.key == key and (category is None or variable.category == category):
                return {"id": variable.id, "key": variable.key, "value": variable.value,
                        "category": variable.category, "sensitive": variable.sensitive,
                        "hcl": variable.hcl, "description": variable.description,
                        "version-id": variable.version_id}
        return None

    def grant_workspace_access(self, team_id: str, workspace: str,
                               variables: str = "write") -> None:
        """Give a team access to a workspace (by name), with variables ``read`` or ``write``."""
        if variables not in ("read", "write"):
            raise ValueError("variables is read or write")
        self._workspace_access.setdefault(team_id, {})[self.workspace_by_name(workspace)] = \
            variables

    def grant_manage_varsets(self, team_id: str) -> None:
        self._varset_managers.add(team_id)

    def _holder_by_name(self, workspace: str | None, varset: str | None
                        ) -> Workspace | VariableSet:
        if (workspace is None) == (varset is None):
            raise ValueError("name a workspace or a variable set")
        holder_id = self.workspace_by_name(workspace) if workspace is not None \
            else self.varset_by_name(varset)
        holder = self._workspaces.get(holder_id) or self._varsets.get(holder_id)
        if holder is None:
            raise ValueError(f"no workspace or variable set {workspace or varset!r}")
        return holder

    @staticmethod
    def _new_id(prefix: str) -> str:
        return f"{prefix}-{random_token(16, string.ascii_letters + string.digits)}"

    # -- access ------------------------------------------------------------------------------
    def _team(self) -> str | None:
        return None if self._is_owner() else g.caller.get("team_id")

    def _workspace(self, ws_id: str, write: bool = False) -> Workspace:
        workspace = self._workspaces.get(ws_id)
        team = self._team()
        granted = None if team is None else self._workspace_access.get(team, {}).get(ws_id)
        if workspace is None or (team is not None and granted is None):
            raise self.ApiError(404)
        if write and team is not None and granted != "write":
            raise self.ApiError(403)
        return workspace

    def _varset(self, varset_id: str) -> VariableSet:
        varset = self._varsets.get(varset_id)
        team = self._team()
        if varset is None or (team is not None and team not in self._varset_managers):
            raise self.ApiError(404)
        return varset

    def _variable(self, holder: Workspace | VariableSet, var_id: str) -> Variable:
        variable = holder.variables.get(var_id)
        if variable is None:
            raise self.ApiError(404)
        return variable

    # -- variables, shared by workspaces and variable sets -----------------------------------
    def _new_variable(self, holder: Workspace | VariableSet, attributes: dict) -> Variable:
        key = attributes.get("key")
        if not isinstance(key, str) or not key:
            raise self.ApiError(422, "Key can't be blank", KEY)
        category = attributes.get("category")
        if category not in CATEGORIES:
            raise self.ApiError(422, "Category is not included in the list", CATEGORY)
        self._check_unique(holder, key, category)
        owner = ("workspaces" if isinstance(holder, Workspace) else "varsets", holder.id)
        variable = Variable(self._new_id("var"), key, _text(attributes.get("value")),
                            category, bool(attributes.get("hcl", False)),
                            bool(attributes.get("sensitive", False)),
                            attributes.get("description"), self.now(), new_version(), owner)
        holder.variables[variable.id] = variable
        holder.updated_at = self.now()
        return variable

    def _check_unique(self, holder: Workspace | VariableSet, key: str, category: str,
                      skip: str | None = None) -> None:
        if any(other.key == key and other.category == category and other.id != skip
               for other in holder.variables.values()):
            raise self.ApiError(422, "Key has already been taken", KEY)

    def _change_variable(self, holder: Workspace | VariableSet, variable: Variable,
                         attributes: dict) -> Variable:
        key = attributes.get("key", variable.key)
        category = attributes.get("category", variable.category)
        if not isinstance(key, str) or not key:
            raise self.ApiError(422, "Key can't be blank", KEY)
        if category not in CATEGORIES:
            raise self.ApiError(422, "Category is not included in the list", CATEGORY)
        if variable.sensitive and attributes.get("sensitive") is False:
            raise self.ApiError(422, "Sensitive variables cannot be made non-sensitive",
                                SENSITIVE)
        self._check_unique(holder, key, category, skip=variable.id)
        variable.key, variable.category = key, category
        if "value" in attributes:
            variable.value = _text(attributes["value"])
        for name in ("hcl", "sensitive"):
            if name in attributes:
                setattr(variable, name, bool(attributes[name]))
        if "description" in attributes:
            variable.description = attributes["description"]
        variable.version_id = new_version()
        holder.updated_at = self.now()
        return variable

    def _variable_resource(self, variable: Variable) -> dict:
        kind, owner_id = variable.owner
        resource: dict[str, Any] = {
            "id": variable.id, "type": "vars",
            "attributes": {
                "key": variable.key,
                "value": None if variable.sensitive else variable.value,
                "sensitive": variable.sensitive, "category": variable.category,
                "hcl": variable.hcl, "created-at": isoformat_ms(variable.created_at),
                "description": variable.description, "version-id": variable.version_id},
            "relationships": {"configurable": {"data": {"id": owner_id, "type": kind}}},
        }
        if kind == "workspaces":
            workspace = self._workspaces[owner_id]
            resource["relationships"]["workspace"] = {
                "data": {"id": owner_id, "type": "workspaces"},
                "links": {"related": f"/api/v2/organizations/{self.organization}/workspaces/"
                                     f"{workspace.name}"}}
            resource["links"] = {"self": f"/api/v2/workspaces/{owner_id}/vars/{variable.id}"}
        else:
            resource["relationships"]["varset"] = {"data": {"id": owner_id, "type": "varsets"}}
            resource["links"] = {"self": f"/api/v2/varsets/{owner_id}/relationships/vars/"
                                         f"{variable.id}"}
        return resource

    def _variable_document(self, variable: Variable, status: int = 200) -> Response:
        return self.json({"data": self._variable_resource(variable)}, status)

    # -- views: workspaces -------------------------------------------------------------------
    def _workspace_resource(self, workspace: Workspace) -> dict:
        return {"id": workspace.id, "type": "workspaces",
                "attributes": {"name": workspace.name,
                               "created-at": isoformat_ms(workspace.created_at),
                               "updated-at": isoformat_ms(workspace.updated_at),
                               "environment": "default", "locked": False,
                               "execution-mode": "remote", "description": None,
                               "permissions": {"can-read-variable": True,
                                               "can-update-variable":
                                                   self._may_write_variables(workspace)}},
                "relationships": {"organization": {"data": {"id": self.organization,
                                                            "type": "organizations"}}},
                "links": {"self": f"/api/v2/organizations/{self.organization}/workspaces/"
                                  f"{workspace.name}"}}

    def _may_write_variables(self, workspace: Workspace) -> bool:
        team = self._team()
        return team is None or \
            self._workspace_access.get(team, {}).get(workspace.id) == "write"

    def _visible_workspaces(self) -> list[Workspace]:
        team = self._team()
        return [ws for ws in self._workspaces.values()
                if team is None or ws.id in self._workspace_access.get(team, {})]

    def _list_workspaces(self, org: str) -> Response:
        self._require_org(org)
        search = request.args.get("search[name]") or ""
        workspaces = [ws for ws in self._visible_workspaces() if search in ws.name]
        return self._page(sorted(workspaces, key=lambda ws: ws.name), self._workspace_resource)

    def _show_workspace_by_name(self, org: str, name: str) -> Response:
        self._require_org(org)
        ws_id = self.workspace_by_name(name)
        return self.json({"data": self._workspace_resource(self._workspace(ws_id or ""))})

    def _show_workspace(self, ws_id: str) -> Response:
        return self.json({"data": self._workspace_resource(self._workspace(ws_id))})

    def _list_vars(self, ws_id: str) -> Response:
        workspace = self._workspace(ws_id)
        return self.json({"data": [self._variable_resource(variable)
                                   for variable in workspace.variables.values()]})

    def _create_var(self, ws_id: str) -> Response:
        workspace = self._workspace(ws_id, write=True)
        return self._variable_document(self._new_variable(workspace, self._attributes()), 201)

    def _show_var(self, ws_id: str, var_id: str) -> Response:
        return self._variable_document(self._variable(self._workspace(ws_id), var_id))

    def _update_var(self, ws_id: str, var_id: str) -> Response:
        workspace = self._workspace(ws_id, write=True)
        variable = self._variable(workspace, var_id)
        return self._variable_document(self._change_variable(workspace, variable,
                                                             self._attributes()))

    def _delete_var(self, ws_id: str, var_id: str) -> Response:
        workspace = self._workspace(ws_id, write=True)
        del workspace.variables[self._variable(workspace, var_id).id]
        return self.empty()

    def _list_workspace_varsets(self, ws_id: str) -> Response:
        workspace = self._workspace(ws_id)
        varsets = [vs for vs in self._varsets.values()
                   if vs.global_ or workspace.id in vs.workspace_ids]
        return self._page(varsets, self._varset_resource)

    # -- views: variable sets ----------------------------------------------------------------
    def _varset_resource(self, varset: VariableSet) -> dict:
        return {"id": varset.id, "type": "varsets",
                "attributes": {"name": varset.name, "description": varset.description,
                               "global": varset.global_, "priority": varset.priority,
                               "updated-at": isoformat_ms(varset.updated_at),
                               "var-count": len(varset.variables),
                               "workspace-count": len(varset.workspace_ids),
                               "project-count": 0, "stack-count": 0,
                               "permissions": {"can-update": True}},
                "relationships": {
                    "organization": {"data": {"id": self.organization,
                                              "type": "organizations"}},
                    "workspaces": {"data": [{"id": ws_id, "type": "workspaces"}
                                            for ws_id in varset.workspace_ids]},
                    "projects": {"data": []},
                    "vars": {"data": [{"id": var_id, "type": "vars"}
                                      for var_id in varset.variables]}},
                "links": {"self": f"/api/v2/varsets/{varset.id}"}}

    def _list_varsets(self, org: str) -> Response:
        self._require_org(org)
        team = self._team()
        if team is not None and team not in self._varset_managers:
            raise self.ApiError(404)
        query = (request.args.get("q") or "").lower()
        varsets = [vs for vs in self._varsets.values() if query in vs.name.lower()]
        return self._page(sorted(varsets, key=lambda vs: vs.name), self._varset_resource)

    def _create_varset(self, org: str) -> Response:
        self._require_org(org)
        team = self._team()
        if team is not None and team not in self._varset_managers:
            raise self.ApiError(404)
        attributes = self._attributes()
        name = attributes.get("name")
        if not isinstance(name, str) or not name:
            raise self.ApiError(422, "Name can't be blank", "/data/attributes/name")
        if self.varset_by_name(name) is not None:
            raise self.ApiError(422, "Name has already been taken", "/data/attributes/name")
        now = self.now()
        varset = VariableSet(self._new_id("varset"), name, attributes.get("description"),
                             bool(attributes.get("global", False)),
                             bool(attributes.get("priority", False)), now, now)
        self._varsets[varset.id] = varset
        return self.json({"data": self._varset_resource(varset)}, 201)

    def _show_varset(self, varset_id: str) -> Response:
        return self.json({"data": self._varset_resource(self._varset(varset_id))})

    def _update_varset(self, varset_id: str) -> Response:
        varset = self._varset(varset_id)
        body = self._body() or {}
        data = body.get("data") if isinstance(body, dict) else None
        attributes = (data or {}).get("attributes") or {}
        if "name" in attributes:
            varset.name = attributes["name"]
        if "description" in attributes:
            varset.description = attributes["description"]
        if "global" in attributes:
            varset.global_ = bool(attributes["global"])
        if "priority" in attributes:
            varset.priority = bool(attributes["priority"])
        related = ((data or {}).get("relationships") or {}).get("workspaces")
        if isinstance(related, dict):
            varset.workspace_ids = [self._workspace(item["id"]).id
                                    for item in related.get("data") or []]
        varset.updated_at = self.now()
        return self.json({"data": self._varset_resource(varset)})

    def _delete_varset(self, varset_id: str) -> Response:
        del self._varsets[self._varset(varset_id).id]
        return self.empty()

    def _list_varset_vars(self, varset_id: str) -> Response:
        varset = self._varset(varset_id)
        return self._page(list(varset.variables.values()), self._variable_resource)

    def _create_varset_var(self, varset_id: str) -> Response:
        varset = self._varset(varset_id)
        return self._variable_document(self._new_variable(varset, self._attributes()), 201)

    def _show_varset_var(self, varset_id: str, var_id: str) -> Response:
        return self._variable_document(self._variable(self._varset(varset_id), var_id))

    def _update_varset_var(self, varset_id: str, var_id: str) -> Response:
        varset = self._varset(varset_id)
        variable = self._variable(varset, var_id)
        return self._variable_document(self._change_variable(varset, variable,
                                                             self._attributes()))

    def _delete_varset_var(self, varset_id: str, var_id: str) -> Response:
        varset = self._varset(varset_id)
        del varset.variables[self._variable(varset, var_id).id]
        return self.empty()

    def _workspace_refs(self) -> list[str]:
        body = self._body()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise self.ApiError(422, "data: must be a list of workspace references", "/data")
        return [self._workspace(str(item.get("id"))).id for item in data]

    def _apply_varset(self, varset_id: str) -> Response:
        varset = self._varset(varset_id)
        if varset.global_:
            raise self.ApiError(422, "a global variable set applies to every workspace")
        for ws_id in self._workspace_refs():
            if ws_id not in varset.workspace_ids:
                varset.workspace_ids.append(ws_id)
        return self.empty()

    def _remove_varset(self, varset_id: str) -> Response:
        varset = self._varset(varset_id)
        if varset.global_:
            raise self.ApiError(422, "a global variable set applies to every workspace")
        removed = set(self._workspace_refs())
        varset.workspace_ids = [ws for ws in varset.workspace_ids if ws not in removed]
        return self.empty()


def _text(value: Any) -> str:
    """A variable's value as stored: strings as given, nothing as the empty string."""
    return "" if value is None else str(value)
