"""Health, users, teams, team users, API tokens, audit logs and authentication."""

from __future__ import annotations

import re
from typing import Any

from tether.testing.moderately._core import SPEC_VERSION, SimCore
from tether.testing.moderately._models import Ctx, Reply, Route, SentEmail
from tether.testing.moderately._util import (
    JSON,
    ApiError,
    BodyReader,
    ListSpec,
    QueryReader,
    like,
    paginate,
    parse_iso,
    public,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USER_FIELDS = ("userId", "fullName", "nickname", "createdAt", "updatedAt")
TEAM_FIELDS = ("teamId", "name", "createdAt", "updatedAt")
TOKEN_FIELDS = (
    "tokenId",
    "teamId",
    "name",
    "tokenPrefix",
    "last4",
    "role",
    "createdByUserId",
    "expiresAt",
    "lastUsedAt",
    "isActive",
    "createdAt",
    "updatedAt",
)
AUDIT_ACTIONS = ("create", "read", "update", "delete", "execute", "export", "import")
MAX_LOGIN_FAILURES = 5
EMAIL_TOKEN_TTL = 900.0


class IdentityRoutes(SimCore):
    """Mixin: the platform's account-level endpoints."""

    healthy: bool = True

    def _routes_identity(self) -> list[Route]:
        return [
            Route("GET", "/health", self._health, auth=False),
            Route("GET", "/users", self._list_users),
            Route("GET", "/users/{userId}", self._get_user),
            Route("PATCH", "/users/{userId}", self._patch_user, audit=("user", "update")),
            Route("GET", "/users/{userId}/teams", self._user_teams, compat=True, spec=False),
            Route("GET", "/teams", self._list_teams),
            Route(
                "POST",
                "/teams",
                self._create_team,
                audit=("team", "create"),
                audit_kind="teams",
                audit_id="teamId",
            ),
            Route("GET", "/teams/{teamId}", self._get_team),
            Route(
                "PATCH",
                "/teams/{teamId}",
                self._patch_team,
                audit=("team", "update"),
                audit_kind="teams",
            ),
            Route(
                "DELETE",
                "/teams/{teamId}",
                self._delete_team,
                audit=("team", "delete"),
                audit_kind="teams",
                compat=True,
                spec=False,
            ),
            Route("GET", "/team-users", self._list_team_users),
            Route("GET", "/team-users/{teamUserId}", self._get_team_user),
            Route(
                "PATCH",
                "/team-users/{teamUserId}",
                self._patch_team_user,
                audit=("teamUser", "update"),
                audit_kind="teamUsers",
            ),
            Route(
                "DELETE",
                "/team-users/{teamUserId}",
                self._delete_team_user,
                audit=("teamUser", "delete"),
                audit_kind="teamUsers",
            ),
            Route(
                "POST",
                "/api-tokens",
                self._create_token,
                audit=("apiToken", "create"),
                audit_kind="apiTokens",
                audit_id="tokenId",
            ),
            Route("GET", "/api-tokens", self._list_tokens),
            Route("GET", "/api-tokens/{tokenId}", self._get_token),
            Route(
                "PATCH",
                "/api-tokens/{tokenId}",
                self._patch_token,
                audit=("apiToken", "update"),
                audit_kind="apiTokens",
            ),
            Route(
                "DELETE",
                "/api-tokens/{tokenId}",
                self._delete_token,
                audit=("apiToken", "delete"),
                audit_kind="apiTokens",
            ),
            Route("GET", "/api-tokens/{tokenId}/usage", self._token_usage_stats),
            Route("GET", "/audit-logs", self._list_audit_logs),
            Route("GET", "/audit-logs/entity/{entityType}/{entityId}", self._entity_audit_logs),
            Route("GET", "/audit-logs/user/{userId}", self._user_audit_logs),
            Route("GET", "/audit-logs/{auditLogId}", self._get_audit_log),
            Route("POST", "/authentication/email/initialize", self._email_initialize, auth=False),
            Route("POST", "/authentication/email/verify", self._email_verify, auth=False),
            Route("POST", "/authentication/login", self._login, auth=False),
            Route("POST", "/authentication/logout", self._logout),
            Route("GET", "/authentication/whoami", self._whoami),
        ]

    # ------------------------------------------------------------------ health

    def _health(self, ctx: Ctx) -> Reply:
        if not self.healthy:
            raise ApiError(500, "The platform is unhealthy")
        return Reply(200, {"status": "ok", "version": SPEC_VERSION})

    # ------------------------------------------------------------------ users

    def _me(self, ctx: Ctx) -> str:
        assert ctx.principal is not None
        return ctx.principal.user_id

    def _role_in(self, team_id: str, user_id: str) -> str | None:
        for member in self._db["teamUsers"].values():
            if member["teamId"] == team_id and member["userId"] == user_id:
                return str(member["role"])
        return None

    def _require_admin(self, ctx: Ctx, team_id: str) -> None:
        self._require_team(ctx, team_id)
        self._require_write(ctx)
        assert ctx.principal is not None
        if ctx.principal.role != "admin" or self._role_in(team_id, self._me(ctx)) != "admin":
            raise ApiError(403, "Only team admins may do this")

    def _visible_users(self, ctx: Ctx) -> set[str]:
        teams = self._teams_of(ctx.principal)
        visible = {m["userId"] for m in self._db["teamUsers"].values() if m["teamId"] in teams}
        visible.add(self._me(ctx))
        return visible

    def _user_view(self, user: JSON) -> JSON:
        view = public(user, USER_FIELDS)
        if view.get("nickname") is None:
            view.pop("nickname")
        return view

    def _list_users(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        user_ids = q.ids("userIds")
        emails = q.ids("userEmails")
        team_ids = q.ids("teamIds")
        name_like = q.get("fullNameLike")
        nick_like = q.get("nicknameLike")
        visible = self._visible_users(ctx)
        if team_ids is not None:
            teams = self._visible_teams(ctx, team_ids)
            visible &= {m["userId"] for m in self._db["teamUsers"].values() if m["teamId"] in teams}
        items = [
            u
            for u in self._all("users")
            if u["userId"] in visible
            and (user_ids is None or u["userId"] in user_ids)
            and (emails is None or u.get("_email") in emails)
            and like(u.get("fullName"), name_like)
            and (nick_like is None or like(u.get("nickname"), nick_like))
        ]
        page = paginate(items, q, ListSpec(order_by=("createdAt", "fullName")))
        page["items"] = [self._user_view(u) for u in page["items"]]
        return Reply(200, page)

    def _find_visible_user(self, ctx: Ctx) -> JSON:
        user = self._get("users", ctx.params["userId"], "User")
        if user["userId"] not in self._visible_users(ctx):
            raise ApiError(403, "You may not read this user")
        return user

    def _get_user(self, ctx: Ctx) -> Reply:
        return Reply(200, self._user_view(self._find_visible_user(ctx)))

    def _patch_user(self, ctx: Ctx) -> Reply:
        user = self._find_visible_user(ctx)
        if user["userId"] != self._me(ctx):
            raise ApiError(403, "You may only update your own profile")
        body = BodyReader(ctx.body)
        full_name = body.text("fullName", required=not self.compat, min_len=1)
        nickname = body.text("nickname", nullable=True)
        body.check()
        if full_name is not None:
            user["fullName"] = full_name
        if body.has("nickname"):
            user["nickname"] = nickname
        user["updatedAt"] = self._now()
        return Reply(200, self._user_view(user))

    def _user_teams(self, ctx: Ctx) -> Reply:
        user = self._find_visible_user(ctx)
        mine = self._teams_of(ctx.principal)
        teams = [
            t
            for t in self._all("teams")
            if t["teamId"] in self._member_teams(user["userId"]) & mine
        ]
        page = paginate(teams, QueryReader(ctx.query), ListSpec(order_by=("createdAt", "name")))
        page["items"] = [public(t, TEAM_FIELDS) for t in page["items"]]
        return Reply(200, page)

    # ------------------------------------------------------------------ teams

    def _list_teams(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        name = q.get("name")
        items = [
            t
            for t in self._all("teams")
            if t["teamId"] in teams and (name is None or t["name"] == name)
        ]
        page = paginate(items, q, ListSpec(order_by=("createdAt", "updatedAt", "name")))
        page["items"] = [public(t, TEAM_FIELDS) for t in page["items"]]
        return Reply(200, page)

    def _create_team(self, ctx: Ctx) -> Reply:
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        name = body.text("name", required=True, min_len=1, max_len=255)
        description = body.text("description", nullable=True)
        body.check()
        assert name is not None
        now = self._now()
        team = self._insert(
            "teams",
            {
                "teamId": self._ids.new("team"),
                "name": name,
                "createdAt": now,
                "updatedAt": now,
                "_description": description,
            },
        )
        self._add_member(team["teamId"], self._me(ctx), "admin", is_default=False)
        return Reply(200, public(team, TEAM_FIELDS))

    def _get_team(self, ctx: Ctx) -> Reply:
        return Reply(
            200, public(self._owned(ctx, "teams", ctx.params["teamId"], "Team"), TEAM_FIELDS)
        )

    def _patch_team(self, ctx: Ctx) -> Reply:
        team = self._owned(ctx, "teams", ctx.params["teamId"], "Team")
        self._require_admin(ctx, team["teamId"])
        body = BodyReader(ctx.body)
        name = body.text("name", min_len=1, max_len=255)
        description = body.text("description", nullable=True)
        body.check()
        if name is not None:
            team["name"] = name
        if body.has("description"):
            team["_description"] = description
        team["updatedAt"] = self._now()
        return Reply(200, public(team, TEAM_FIELDS))

    def _delete_team(self, ctx: Ctx) -> Reply:
        team = self._owned(ctx, "teams", ctx.params["teamId"], "Team")
        self._require_admin(ctx, team["teamId"])
        if team["teamId"] == self._team_id:
            raise ApiError(400, "The simulator's default team cannot be deleted")
        del self._db["teams"][team["teamId"]]
        for member_id in [
            k for k, m in self._db["teamUsers"].items() if m["teamId"] == team["teamId"]
        ]:
            del self._db["teamUsers"][member_id]
        return Reply(200, {"success": True, "message": "Team deleted"})

    # ------------------------------------------------------------------ team users

    def _team_user_view(self, member: JSON) -> JSON:
        return public(
            member,
            (
                "teamUserId",
                "teamId",
                "userId",
                "role",
                "isDefault",
                "createdAt",
                "updatedAt",
                "email",
            ),
        )

    def _list_team_users(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        ids = q.ids("teamUserIds")
        users = q.ids("userIds")
        roles = q.enums("roles", ("admin", "member"))
        name_like = q.get("nameLike")
        email_like = q.get("emailLike")
        items: list[JSON] = []
        for member in self._all("teamUsers"):
            user = self._db["users"].get(member["userId"], {})
            if (
                member["teamId"] in teams
                and (ids is None or member["teamUserId"] in ids)
                and (users is None or member["userId"] in users)
                and (roles is None or member["role"] in roles)
                and like(user.get("fullName"), name_like)
                and (email_like is None or like(member.get("email"), email_like))
            ):
                items.append({**member, "_name": user.get("fullName")})
        spec = ListSpec(
            order_by=("name", "role", "createdAt", "updatedAt"), sort_fields={"name": "_name"}
        )
        page = paginate(items, q, spec)
        page["items"] = [self._team_user_view(m) for m in page["items"]]
        return Reply(200, page)

    def _get_team_user(self, ctx: Ctx) -> Reply:
        member = self._owned(ctx, "teamUsers", ctx.params["teamUserId"], "Team user")
        return Reply(200, self._team_user_view(member))

    def _admins(self, team_id: str) -> list[JSON]:
        return [
            m
            for m in self._db["teamUsers"].values()
            if m["teamId"] == team_id and m["role"] == "admin"
        ]

    def _patch_team_user(self, ctx: Ctx) -> Reply:
        member = self._owned(ctx, "teamUsers", ctx.params["teamUserId"], "Team user")
        self._require_admin(ctx, member["teamId"])
        body = BodyReader(ctx.body)
        role = body.text("role", enum=("admin", "member"))
        is_default = body.flag("isDefault")
        body.check()
        if (
            role == "member"
            and member["role"] == "admin"
            and len(self._admins(member["teamId"])) == 1
        ):
            raise ApiError(400, "A team needs at least one admin")
        if role is not None:
            member["role"] = role
        if is_default is True:
            for other in self._db["teamUsers"].values():
                if other["userId"] == member["userId"]:
                    other["isDefault"] = False
        if is_default is not None:
            member["isDefault"] = is_default
        member["updatedAt"] = self._now()
        return Reply(200, self._team_user_view(member))

    def _delete_team_user(self, ctx: Ctx) -> Reply:
        member = self._owned(ctx, "teamUsers", ctx.params["teamUserId"], "Team user")
        self._require_admin(ctx, member["teamId"])
        if member["userId"] == self._me(ctx):
            raise ApiError(400, "You cannot remove your own team membership")
        if member["role"] == "admin" and len(self._admins(member["teamId"])) == 1:
            raise ApiError(400, "Cannot delete the last admin of a team")
        del self._db["teamUsers"][member["teamUserId"]]
        return Reply(200, {"message": "Team user deleted"})

    # ------------------------------------------------------------------ API tokens

    def _usage(
        self, token_id: str, since: float | None = None
    ) -> list[tuple[float, str, str, int, float]]:
        entries = self._token_usage.get(token_id, [])
        if since is None:
            return list(entries)
        return [e for e in entries if e[0] >= since]

    def _token_view(self, token: JSON) -> JSON:
        view = public(token, TOKEN_FIELDS)
        view["usage7Days"] = len(self._usage(token["tokenId"], self._clock.now() - 7 * 86400))
        return view

    def _create_token(self, ctx: Ctx) -> Reply:
        body = BodyReader(ctx.body)
        team_id = body.text("teamId", required=True, min_len=1)
        name = body.text("name", required=True, min_len=1, max_len=255)
        role = body.text("role", enum=("member", "admin", "readonly")) or "member"
        expires = body.text("expiresAt", nullable=True)
        body.check()
        assert team_id is not None and name is not None
        if expires is not None and parse_iso(expires) is None:
            raise ApiError(
                400,
                "Invalid request body",
                details=[{"field": "expiresAt", "message": "must be ISO 8601"}],
            )
        self._require_admin(ctx, team_id)
        secret = "mod_" + self._ids.secret(40)
        now = self._now()
        token = self._insert(
            "apiTokens",
            {
                "tokenId": self._ids.new("apiToken"),
                "teamId": team_id,
                "name": name,
                "tokenPrefix": secret[:8],
                "last4": secret[-4:],
                "role": role,
                "createdByUserId": self._me(ctx),
                "expiresAt": expires,
                "lastUsedAt": None,
                "isActive": True,
                "createdAt": now,
                "updatedAt": now,
            },
        )
        self._token_secrets[secret] = token["tokenId"]
        reply = {
            "token": secret,
            "tokenId": token["tokenId"],
            "name": name,
            "role": role,
            "teamId": team_id,
            "expiresAt": expires,
            "createdAt": now,
        }
        return Reply(201, reply)

    def _list_tokens(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        team_id = q.get("teamId")
        if not team_id:
            raise ApiError(
                400,
                "Invalid query parameters",
                details=[{"field": "teamId", "message": "is required"}],
            )
        self._require_team(ctx, team_id)
        ids = q.ids("tokenIds")
        items = [
            t
            for t in self._all("apiTokens")
            if t["teamId"] == team_id and (ids is None or t["tokenId"] in ids)
        ]
        page = paginate(items, q, ListSpec(order_by=("createdAt", "name")))
        page["items"] = [self._token_view(t) for t in page["items"]]
        return Reply(200, page)

    def _get_token(self, ctx: Ctx) -> Reply:
        token = self._owned(ctx, "apiTokens", ctx.params["tokenId"], "API token")
        view = public(token, TOKEN_FIELDS)
        view.pop("createdByUserId")
        creator = self._db["users"].get(token["createdByUserId"])
        view["createdBy"] = (
            None
            if creator is None
            else {
                "userId": creator["userId"],
                "fullName": creator["fullName"],
                "nickname": creator.get("nickname"),
            }
        )
        now = self._clock.now()
        view["usageStats"] = {
            "totalRequests": len(self._usage(token["tokenId"])),
            "requestsLast24Hours": len(self._usage(token["tokenId"], now - 86400)),
            "requestsLast7Days": len(self._usage(token["tokenId"], now - 7 * 86400)),
            "requestsLast30Days": len(self._usage(token["tokenId"], now - 30 * 86400)),
        }
        return Reply(200, view)

    def _patch_token(self, ctx: Ctx) -> Reply:
        token = self._owned(ctx, "apiTokens", ctx.params["tokenId"], "API token")
        self._require_admin(ctx, token["teamId"])
        body = BodyReader(ctx.body)
        name = body.text("name", min_len=1, max_len=255)
        expires = body.text("expiresAt", nullable=True)
        active = body.flag("isActive")
        body.check()
        if expires is not None and parse_iso(expires) is None:
            raise ApiError(
                400,
                "Invalid request body",
                details=[{"field": "expiresAt", "message": "must be ISO 8601"}],
            )
        if name is not None:
            token["name"] = name
        if body.has("expiresAt"):
            token["expiresAt"] = expires
        if active is not None:
            token["isActive"] = active
        token["updatedAt"] = self._now()
        return Reply(200, self._token_view(token))

    def _delete_token(self, ctx: Ctx) -> Reply:
        token = self._owned(ctx, "apiTokens", ctx.params["tokenId"], "API token")
        self._require_admin(ctx, token["teamId"])
        del self._db["apiTokens"][token["tokenId"]]
        for secret in [s for s, tid in self._token_secrets.items() if tid == token["tokenId"]]:
            del self._token_secrets[secret]
        return Reply(204)

    def _token_usage_stats(self, ctx: Ctx) -> Reply:
        token = self._owned(ctx, "apiTokens", ctx.params["tokenId"], "API token")
        q = QueryReader(ctx.query)
        start = _iso_param(q, "startDate")
        end = _iso_param(q, "endDate")
        endpoint = q.get("endpoint")
        method = q.get("method")
        q.check()
        entries: list[tuple[str, str, int, float]] = []
        for at, m, path, status, ms in self._usage(token["tokenId"]):
            when = self._clock.wall(at)
            in_window = (start is None or when >= start) and (end is None or when <= end)
            wanted = (endpoint is None or path == endpoint) and (
                method is None or m == method.upper()
            )
            if in_window and wanted:
                entries.append((m, path, status, ms))
        by_endpoint: dict[str, int] = {}
        by_method: dict[str, int] = {}
        for m, path, _, _ in entries:
            by_endpoint[path] = by_endpoint.get(path, 0) + 1
            by_method[m] = by_method.get(m, 0) + 1
        total = len(entries)
        return Reply(
            200,
            {
                "totalRequests": total,
                "requestsByEndpoint": by_endpoint,
                "requestsByMethod": by_method,
                "averageResponseTime": round(sum(e[3] for e in entries) / total, 3) if total else 0,
                "errorRate": round(sum(1 for e in entries if e[2] >= 400) / total, 4)
                if total
                else 0,
            },
        )

    # ------------------------------------------------------------------ audit logs

    def _audit_visible(self, ctx: Ctx) -> list[JSON]:
        teams = self._teams_of(ctx.principal)
        me = self._me(ctx)
        return [
            log
            for log in self._all("auditLogs")
            if log["teamId"] in teams or (log["teamId"] is None and log["userId"] == me)
        ]

    def _audit_list(self, ctx: Ctx, **fixed: str) -> Reply:
        q = QueryReader(ctx.query)
        filters: dict[str, Any] = {
            key: q.get(key)
            for key in ("teamId", "userId", "apiTokenId", "resourceType", "resourceId", "eventType")
        }
        filters["action"] = q.enum("action", AUDIT_ACTIONS, None)
        filters.update(fixed)
        multi = {
            "userId": q.ids("userIds"),
            "apiTokenId": q.ids("apiTokenIds"),
            "resourceId": q.ids("resourceIds"),
        }
        start = _iso_param(q, "startDate")
        end = _iso_param(q, "endDate")
        q.check()
        team = filters.get("teamId")
        if team is not None:
            self._require_team(ctx, team)
        items: list[JSON] = []
        for log in self._audit_visible(ctx):
            if any(v is not None and log.get(k) != v for k, v in filters.items()):
                continue
            if any(v is not None and log.get(k) not in v for k, v in multi.items()):
                continue
            created = parse_iso(log["createdAt"])
            if created is not None and (
                (start is not None and created < start) or (end is not None and created > end)
            ):
                continue
            items.append(log)
        page = paginate(
            items, q, ListSpec(order_by=("createdAt", "eventType", "resourceType", "action"))
        )
        page["items"] = [public(log) for log in page["items"]]
        return Reply(200, page)

    def _list_audit_logs(self, ctx: Ctx) -> Reply:
        return self._audit_list(ctx)

    def _entity_audit_logs(self, ctx: Ctx) -> Reply:
        return self._audit_list(
            ctx, resourceType=ctx.params["entityType"], resourceId=ctx.params["entityId"]
        )

    def _user_audit_logs(self, ctx: Ctx) -> Reply:
        return self._audit_list(ctx, userId=ctx.params["userId"])

    def _get_audit_log(self, ctx: Ctx) -> Reply:
        log = self._get("auditLogs", ctx.params["auditLogId"], "Audit log")
        if log not in self._audit_visible(ctx):
            raise ApiError(403, "You may not read this audit log")
        return Reply(200, public(log))

    # ------------------------------------------------------------------ authentication

    def _user_by_email(self, email: str) -> JSON | None:
        for user in self._db["users"].values():
            if str(user.get("_email", "")).lower() == email.lower():
                return user
        return None

    def _email_initialize(self, ctx: Ctx) -> Reply:
        body = BodyReader(ctx.body)
        email = body.text("email", required=True)
        body.check()
        assert email is not None
        if not _EMAIL.match(email):
            raise ApiError(
                400, "Invalid email format", details=[{"field": "email", "message": "invalid"}]
            )
        if self._user_by_email(email) is None:
            now = self._now()
            self._insert(
                "users",
                {
                    "userId": self._ids.new("user"),
                    "fullName": email.split("@")[0],
                    "nickname": None,
                    "createdAt": now,
                    "updatedAt": now,
                    "_email": email,
                },
            )
        token = self._ids.secret(32)
        self._email_tokens[token] = (email, self._clock.now() + EMAIL_TOKEN_TTL)
        self._sent_emails.append(SentEmail(to=email, token=token))
        return Reply(200, {"message": "Verification email sent"})

    def _new_session(self, user_id: str) -> str:
        session = "sess_" + self._ids.secret(40)
        self._sessions[session] = user_id
        return session

    def _email_verify(self, ctx: Ctx) -> Reply:
        body = BodyReader(ctx.body)
        token = body.text("token", required=True, min_len=1)
        body.check()
        assert token is not None
        entry = self._email_tokens.pop(token, None)
        if entry is None or entry[1] < self._clock.now():
            raise ApiError(400, "Invalid or expired token")
        user = self._user_by_email(entry[0])
        assert user is not None
        return Reply(200, {"token": self._new_session(user["userId"])})

    def _login(self, ctx: Ctx) -> Reply:
        body = BodyReader(ctx.body)
        email = body.text("email", required=True, min_len=1)
        password = body.text("password", required=True, min_len=1)
        body.check()
        assert email is not None and password is not None
        key = email.lower()
        if self._login_failures.get(key, 0) >= MAX_LOGIN_FAILURES:
            raise ApiError(429, "Too many login attempts", headers={"Retry-After": "60"})
        user = self._user_by_email(email)
        if user is None or self._passwords.get(user["userId"]) != password:
            self._login_failures[key] = self._login_failures.get(key, 0) + 1
            raise ApiError(401, "Invalid credentials")
        self._login_failures.pop(key, None)
        session = self._new_session(user["userId"])
        cookie = f"session={session}; Path=/; HttpOnly; SameSite=Lax"
        return Reply(200, {"token": session, "userId": user["userId"]}, {"Set-Cookie": cookie})

    def _logout(self, ctx: Ctx) -> Reply:
        assert ctx.principal is not None
        if ctx.principal.session is not None:
            self._sessions.pop(ctx.principal.session, None)
        cookie = "session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        return Reply(200, {"message": "Logged out"}, {"Set-Cookie": cookie})

    def _whoami(self, ctx: Ctx) -> Reply:
        return Reply(200, {"userId": self._me(ctx)})


def _iso_param(q: QueryReader, name: str) -> Any:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    parsed = parse_iso(raw)
    if parsed is None:
        q.errors.append({"field": name, "message": "must be an ISO 8601 timestamp"})
    return parsed
