"""API tokens, audit logs and authentication (spec groups the official SDK does not cover)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, order, ref
from tether.moderately.models import (
    ApiToken,
    ApiTokenCreated,
    ApiTokenDetail,
    ApiTokenUsage,
    AuditLog,
    WhoAmI,
)

__all__ = [
    "ApiTokens",
    "AsyncApiTokens",
    "AsyncAuditLogs",
    "AsyncAuthentication",
    "AuditLogs",
    "Authentication",
]


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


class AsyncApiTokens(ModeratelyResource):
    """Team-scoped API tokens.

    Example::

        created = await client.api_tokens.create(name="ci", role="readonly")
        secret = created.token          # shown once; never in repr or logs
    """

    async def create(
        self,
        *,
        name: str,
        role: str | None = None,
        expires_at: datetime | str | None = None,
        team_id: str | None = None,
    ) -> ApiTokenCreated:
        """Create a token (``role``: ``member``, ``admin`` or ``readonly``) for the client's team
        (or *team_id*). The secret is in ``token`` of the answer, and only there."""
        if not name:
            raise ValidationError("an API token needs a name")
        body: dict[str, Any] = {"teamId": team_id or self._client.team_id, "name": name}
        if role is not None:
            body["role"] = role
        if expires_at is not None:
            body["expiresAt"] = _iso(expires_at)
        return await self._call("POST", "/api-tokens", ApiTokenCreated, json=body)

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "desc",
        token_ids: Ids | None = None,
        team_id: str | None = None,
    ) -> AsyncPager[ApiToken]:
        """The team's tokens (the client's team unless *team_id* is given)."""
        params = {
            "teamId": team_id or self._client.team_id,
            "tokenIds": ids(token_ids),
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager("/api-tokens", ApiToken, params, page=page, page_size=page_size)

    async def retrieve(self, token: ApiToken | str) -> ApiTokenDetail:
        """One token with its creator and usage statistics."""
        url = path("/api-tokens/{id}", id=ref(token, "token_id", "API token"))
        return await self._call("GET", url, ApiTokenDetail)

    async def update(
        self,
        token: ApiToken | str,
        *,
        name: str | None = None,
        expires_at: datetime | str | None = None,
        is_active: bool | None = None,
    ) -> ApiToken:
        """Rename, re-date or (de)activate a token."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if expires_at is not None:
            body["expiresAt"] = _iso(expires_at)
        if is_active is not None:
            body["isActive"] = is_active
        url = path("/api-tokens/{id}", id=ref(token, "token_id", "API token"))
        return await self._call("PATCH", url, ApiToken, json=body)

    async def delete(self, token: ApiToken | str) -> None:
        """Revoke a token."""
        await self._send("DELETE", path("/api-tokens/{id}", id=ref(token, "token_id", "API token")))

    async def usage(
        self,
        token: ApiToken | str,
        *,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
        endpoint: str | None = None,
        method: str | None = None,
    ) -> ApiTokenUsage:
        """Requests made with a token, optionally within dates, for one endpoint or method."""
        params = {
            "startDate": _iso(start_date),
            "endDate": _iso(end_date),
            "endpoint": endpoint,
            "method": method,
        }
        url = path("/api-tokens/{id}/usage", id=ref(token, "token_id", "API token"))
        return await self._call("GET", url, ApiTokenUsage, params=params)


class ApiTokens(Facade[AsyncApiTokens], mirrors=AsyncApiTokens):
    """Blocking twin of :class:`AsyncApiTokens`."""

    def create(
        self,
        *,
        name: str,
        role: str | None = None,
        expires_at: datetime | str | None = None,
        team_id: str | None = None,
    ) -> ApiTokenCreated:
        """Create a token (``role``: ``member``, ``admin`` or ``readonly``) for the client's team
        (or *team_id*). The secret is in ``token`` of the answer, and only there."""
        return self._run(
            self._wrapped.create, name=name, role=role, expires_at=expires_at, team_id=team_id
        )

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "desc",
        token_ids: Ids | None = None,
        team_id: str | None = None,
    ) -> Pager[ApiToken]:
        """The team's tokens (the client's team unless *team_id* is given)."""
        return Pager(
            self._wrapped.list(
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                token_ids=token_ids,
                team_id=team_id,
            )
        )

    def retrieve(self, token: ApiToken | str) -> ApiTokenDetail:
        """One token with its creator and usage statistics."""
        return self._run(self._wrapped.retrieve, token)

    def update(
        self,
        token: ApiToken | str,
        *,
        name: str | None = None,
        expires_at: datetime | str | None = None,
        is_active: bool | None = None,
    ) -> ApiToken:
        """Rename, re-date or (de)activate a token."""
        return self._run(
            self._wrapped.update, token, name=name, expires_at=expires_at, is_active=is_active
        )

    def delete(self, token: ApiToken | str) -> None:
        """Revoke a token."""
        return self._run(self._wrapped.delete, token)

    def usage(
        self,
        token: ApiToken | str,
        *,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
        endpoint: str | None = None,
        method: str | None = None,
    ) -> ApiTokenUsage:
        """Requests made with a token, optionally within dates, for one endpoint or method."""
        return self._run(
            self._wrapped.usage,
            token,
            start_date=start_date,
            end_date=end_date,
            endpoint=endpoint,
            method=method,
        )


class AsyncAuditLogs(ModeratelyResource):
    """The audit trail: who did what to which resource.

    Example::

        async for entry in client.audit_logs.for_entity("dataset", dataset.dataset_id):
            print(entry.action, entry.created_at)
    """

    @staticmethod
    def _filters(
        *,
        order_by: str | None,
        order_direction: str,
        team_id: str | None,
        user_id: str | None,
        api_token_id: str | None,
        resource_type: str | None,
        resource_id: str | None,
        event_type: str | None,
        action: str | None,
        start_date: datetime | str | None,
        end_date: datetime | str | None,
    ) -> dict[str, Any]:
        return {
            "orderBy": order(order_by),
            "orderDirection": order_direction,
            "teamId": team_id,
            "userId": user_id,
            "apiTokenId": api_token_id,
            "resourceType": resource_type,
            "resourceId": resource_id,
            "eventType": event_type,
            "action": action,
            "startDate": _iso(start_date),
            "endDate": _iso(end_date),
        }

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "desc",
        team_id: str | None = None,
        user_id: str | None = None,
        api_token_id: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        event_type: str | None = None,
        action: str | None = None,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
    ) -> AsyncPager[AuditLog]:
        """Audit log entries, newest first, filtered as given."""
        params = self._filters(
            order_by=order_by,
            order_direction=order_direction,
            team_id=team_id,
            user_id=user_id,
            api_token_id=api_token_id,
            resource_type=resource_type,
            resource_id=resource_id,
            event_type=event_type,
            action=action,
            start_date=start_date,
            end_date=end_date,
        )
        return self._pager("/audit-logs", AuditLog, params, page=page, page_size=page_size)

    async def retrieve(self, audit_log: AuditLog | str) -> AuditLog:
        """One audit log entry."""
        url = path("/audit-logs/{id}", id=ref(audit_log, "audit_log_id", "audit log"))
        return await self._call("GET", url, AuditLog)

    def for_entity(
        self,
        entity_type: str,
        entity_id: str,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "desc",
        action: str | None = None,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
    ) -> AsyncPager[AuditLog]:
        """The history of one resource (``entity_type`` e.g. ``"dataset"``)."""
        params = self._filters(
            order_by=order_by,
            order_direction=order_direction,
            team_id=None,
            user_id=None,
            api_token_id=None,
            resource_type=None,
            resource_id=None,
            event_type=None,
            action=action,
            start_date=start_date,
            end_date=end_date,
        )
        url = path("/audit-logs/entity/{type}/{id}", type=entity_type, id=entity_id)
        return self._pager(url, AuditLog, params, page=page, page_size=page_size)

    def for_user(
        self,
        user_id: str,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "desc",
        action: str | None = None,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
    ) -> AsyncPager[AuditLog]:
        """What one user did."""
        params = self._filters(
            order_by=order_by,
            order_direction=order_direction,
            team_id=None,
            user_id=None,
            api_token_id=None,
            resource_type=None,
            resource_id=None,
            event_type=None,
            action=action,
            start_date=start_date,
            end_date=end_date,
        )
        url = path("/audit-logs/user/{id}", id=user_id)
        return self._pager(url, AuditLog, params, page=page, page_size=page_size)


class AuditLogs(Facade[AsyncAuditLogs], mirrors=AsyncAuditLogs):
    """Blocking twin of :class:`AsyncAuditLogs`."""

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "desc",
        team_id: str | None = None,
        user_id: str | None = None,
        api_token_id: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        event_type: str | None = None,
        action: str | None = None,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
    ) -> Pager[AuditLog]:
        """Audit log entries, newest first, filtered as given."""
        return Pager(
            self._wrapped.list(
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                team_id=team_id,
                user_id=user_id,
                api_token_id=api_token_id,
                resource_type=resource_type,
                resource_id=resource_id,
                event_type=event_type,
                action=action,
                start_date=start_date,
                end_date=end_date,
            )
        )

    def retrieve(self, audit_log: AuditLog | str) -> AuditLog:
        """One audit log entry."""
        return self._run(self._wrapped.retrieve, audit_log)

    def for_entity(
        self,
        entity_type: str,
        entity_id: str,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "desc",
        action: str | None = None,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
    ) -> Pager[AuditLog]:
        """The history of one resource (``entity_type`` e.g. ``"dataset"``)."""
        return Pager(
            self._wrapped.for_entity(
                entity_type,
                entity_id,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                action=action,
                start_date=start_date,
                end_date=end_date,
            )
        )

    def for_user(
        self,
        user_id: str,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "desc",
        action: str | None = None,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
    ) -> Pager[AuditLog]:
        """What one user did."""
        return Pager(
            self._wrapped.for_user(
                user_id,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                action=action,
                start_date=start_date,
                end_date=end_date,
            )
        )


class AsyncAuthentication(ModeratelyResource):
    """Sign-in flows of the web application (API-key clients rarely need them).

    Example::

        me = await client.authentication.whoami()
    """

    async def whoami(self) -> WhoAmI:
        """Who the client's credentials belong to."""
        return await self._call("GET", "/authentication/whoami", WhoAmI)

    async def initialize_email(self, email: str) -> str:
        """Ask for a sign-in email to *email*; returns the platform's message."""
        body = await self._call(
            "POST", "/authentication/email/initialize", dict[str, Any], json={"email": email}
        )
        return str(body.get("message", ""))

    async def verify_email(self, token: str) -> str:
        """Exchange the token from a sign-in email for a session token (a credential)."""
        body = await self._call(
            "POST", "/authentication/email/verify", dict[str, Any], json={"token": token}
        )
        session = body.get("token")
        if not isinstance(session, str):
            raise ValidationError("the platform answered the verification without a token")
        return session

    async def login(self, email: str, password: str) -> None:
        """Sign in with a password (the platform answers with a session cookie)."""
        await self._send(
            "POST", "/authentication/login", json={"email": email, "password": password}
        )

    async def logout(self) -> None:
        """End the session started by :meth:`login`."""
        await self._send("POST", "/authentication/logout")


class Authentication(Facade[AsyncAuthentication], mirrors=AsyncAuthentication):
    """Blocking twin of :class:`AsyncAuthentication`."""

    def whoami(self) -> WhoAmI:
        """Who the client's credentials belong to."""
        return self._run(self._wrapped.whoami)

    def initialize_email(self, email: str) -> str:
        """Ask for a sign-in email to *email*; returns the platform's message."""
        return self._run(self._wrapped.initialize_email, email)

    def verify_email(self, token: str) -> str:
        """Exchange the token from a sign-in email for a session token (a credential)."""
        return self._run(self._wrapped.verify_email, token)

    def login(self, email: str, password: str) -> None:
        """Sign in with a password (the platform answers with a session cookie)."""
        return self._run(self._wrapped.login, email, password)

    def logout(self) -> None:
        """End the session started by :meth:`login`."""
        return self._run(self._wrapped.logout)
