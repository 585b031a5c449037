"""The OpenAPI 3.1 document of the API, built from the request models so it cannot drift
from what the handlers validate. A test checks that it lists exactly the routes served."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from gateway.api import agents, contacts, conversations, history, models

# What ids look like (the config's slugs, the store's ids): the document says it, so clients
# and fuzzers know an empty or malformed id is not one.
SLUG, CONTACT_ID = models.SLUG, models.CONTACT_ID
CONVERSATION_ID = r"^v[0-9]{1,18}$"

CONTACT = {"name": "contact", "in": "path", "required": True,
           "description": "contact id (c12) or E.164 phone (+525512345678, URL-encoded)",
           "schema": {"type": "string", "minLength": 1, "pattern": CONTACT_ID}}


def _path(name: str, description: str, pattern: str = SLUG) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1, "pattern": pattern}}


def _query(name: str, description: str, required: bool = True, pattern: str | None = SLUG,
           schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A query parameter; ids are non-empty and patterned, free text says so with
    ``pattern=None``."""
    shape = schema or {"type": "string", **({"minLength": 1, "pattern": pattern} if pattern
                                             else {})}
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": shape}


AS_AGENT = _query("as_agent", "admins and auditors: whose history to look at", False)
HISTORY = "an agent with the history grant (admin always), history enabled in the workspace"


IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "repeat a call with the same key: the effect happens once",
               "schema": {"type": "string"}}
CONV = _path("conversation", "conversation id (v12)", CONVERSATION_ID)
AGENT = _path("agent", "agent id")
CAMPAIGN = _path("campaign", "campaign id")

OWNERS = ("owner assigners (workspace `owner_assigners` roles; admin always), or the "
          "`assign_owners` grant of the owner's campaign (a department of it, an agent who "
          "serves it; a current owner elsewhere needs the grant there too)")
EXCLUSIVE = ("owner assigners (workspace `owner_assigners` roles; admin always), or the "
             "`assign_owners` grant in `{campaign}`")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# (method, path, handler, summary, body model, parameters, who may call): the one place routes
# are declared; ``gateway.api.setup`` registers them and ``document`` describes them.
OPERATIONS: list[tuple[str, str, Handler, str, type[BaseModel] | None, list[dict], str]] = [
    ("get", "/api/contacts/{contact}", contacts.get_contact,
     "Read a contact's owner and exclusive agents", None,
     [CONTACT], "owner assigners (roles, or the `assign_owners` grant in some campaign)"),
    ("get", "/api/contacts/{contact}/audit", contacts.get_audit,
     "A contact's audit trail: owner, exclusive-agent and data changes (who, when, old, new)",
     None, [CONTACT], "owner assigners, supervisor, auditor, admin"),
    ("put", "/api/contacts/{contact}/owner", contacts.put_owner,
     "Set a contact's owner", models.Owner, [CONTACT],
     OWNERS),
    ("delete", "/api/contacts/{contact}/owner", contacts.delete_owner,
     "Make a contact unassigned", None, [CONTACT], OWNERS),
    ("post", "/api/owners/bulk", contacts.bulk_owner,
     "Set the owner of many contacts", models.BulkOwner, [], OWNERS),
    ("put", "/api/contacts/{contact}/exclusive/{campaign}", contacts.put_exclusive,
     "Set the exclusive agent of a contact in a campaign", models.Exclusive,
     [CONTACT, CAMPAIGN], EXCLUSIVE),
    ("delete", "/api/contacts/{contact}/exclusive/{campaign}", contacts.delete_exclusive,
     "Remove the exclusive agent of a contact in a campaign", None, [CONTACT, CAMPAIGN],
     EXCLUSIVE),
    ("get", "/api/agents/{agent}", agents.get_agent,
     "Read an agent's presence, capacity, load and inbox", None,
     [AGENT], "the agent, supervisor, auditor, admin"),
    ("put", "/api/agents/{agent}/presence", agents.put_presence,
     "Set presence; coming online takes waiting work",
     models.Presence, [AGENT], "the agent, supervisor, admin"),
    ("put", "/api/agents/{agent}/capacity", agents.put_capacity,
     "Set capacity; raising it takes waiting work",
     models.Capacity, [AGENT], "supervisor, admin"),
    ("get", "/api/agents/{agent}/grants", agents.get_grants,
     "An agent's effective per-campaign grants", None, [AGENT],
     "the agent, supervisor, auditor, admin"),
    ("put", "/api/agents/{agent}/grants/{campaign}", agents.put_grants,
     "Set an agent's grants in a campaign (replaces the config's)", models.Grants,
     [AGENT, CAMPAIGN], "admin"),
    ("post", "/api/grants/bulk", agents.bulk_grants,
     "Set the grants of many agents in a campaign", models.BulkGrants, [], "admin"),
    ("get", "/api/conversations/{conversation}", conversations.get_conversation,
     "Read a conversation and its events", None,
     [CONV], "its assignee, supervisor, auditor, admin, its campaign's bot"),
    ("post", "/api/conversations/{conversation}/messages", conversations.post_message,
     "The bot answers the customer", models.Message, [CONV, IDEMPOTENCY],
     "its campaign's bot, admin"),
    ("post", "/api/conversations/{conversation}/handoff", conversations.post_handoff,
     "The bot hands the conversation to people", models.Handoff, [CONV, IDEMPOTENCY],
     "its campaign's bot, admin"),
    ("post", "/api/conversations/{conversation}/close", conversations.post_close,
     "Close a conversation", models.Close,
     [CONV], "its assignee, supervisor, admin"),
    ("post", "/api/conversations/{conversation}/escalate", conversations.post_escalate,
     "Escalate a conversation (type + note), as the card's Escalate button does",
     models.Escalate, [CONV], "its assignee, supervisor, admin"),
    ("get", "/api/history/contacts", history.get_contacts,
     "The contacts in the agent's attendance history (90 days; 3 h after close)", None,
     [_query("q", "search name, email (partial, any case or accents) or phone (any format)",
             False, None),
      _query("sort", "recent (last interaction, default) or name", False,
             schema={"type": "string", "enum": ["recent", "name"]}),
      _query("page", "page number, from 1 (20 a page)", False, r"^[1-9][0-9]{0,5}$"),
      AS_AGENT], HISTORY),
    ("get", "/api/history/contacts/{contact}", history.get_contact,
     "A contact of the history: data, tickets in the agent's campaigns, notes, audit", None,
     [_path("contact", "contact id (c12)", r"^c[0-9]{1,18}$"), AS_AGENT], HISTORY),
    ("get", "/api/tickets/{ticket}", history.get_ticket,
     "A ticket of the history: origin, times, durations, assignees, messages", None,
     [_path("ticket", "conversation id (v12)", CONVERSATION_ID), AS_AGENT], HISTORY),
    ("get", "/api/routing/dry-run", conversations.dry_run,
     "Where a new conversation would go now, and why (changes nothing)", None,
     [_query("campaign", "campaign id"),
      _query("contact", "contact id or E.164 phone", CONTACT_ID)],
     "supervisor, auditor, admin"),
]

ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


REFUSALS = (("400", "invalid input: the message names the field"),
            ("401", "missing or unknown token"),
            ("403", "not allowed: the message says what is missing"),
            ("404", "no such contact, agent, campaign or conversation"),
            ("409", "the conversation's state does not allow it"))
BODY_REFUSALS = (("415", "the body is not application/json"),
                 ("422", "valid, but refers to something that does not fit (e.g. an agent "
                         "who does not serve that campaign)"))
UNAVAILABLE = {"description": "storage unreachable: retry after the given seconds",
               "headers": {"Retry-After": {"required": True, "description": "seconds",
                                           "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
               "content": {"application/json": {
                   "schema": {"$ref": "#/components/schemas/Error"}}}}


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR}
    for method, path, _, summary, model, params, who in OPERATIONS:
        refusals = REFUSALS + (BODY_REFUSALS if model is not None else ())
        op: dict[str, Any] = {
            "summary": summary, "description": f"Who may call: {who}.", "parameters": params,
            "responses": {
                "200": {"description": "done",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                **{code: _error(text) for code, text in refusals},
                "503": UNAVAILABLE,
            },
        }
        if model is not None:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Relay Desk API", "version": "1",
                 "description": "Routing, owners, presence and bot handoff. Authenticate with "
                                "`Authorization: Bearer <token>` (create tokens with "
                                "`python -m gateway token create`)."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


async def serve(request: web.Request) -> web.Response:
    return web.json_response(document())
