"""Teams and team memberships."""

from __future__ import annotations

from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, order, ref
from tether.moderately.models import Team, TeamUser

__all__ = ["AsyncTeamUsers", "AsyncTeams", "TeamUsers", "Teams"]


class AsyncTeams(ModeratelyResource):
    """Teams: the scope of every other resource.

    Example::

        team = await client.teams.retrieve(client.team_id)
    """

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        name: str | None = None,
        team_ids: Ids | None = None,
    ) -> AsyncPager[Team]:
        """Teams, a page at a time (default: the client's team; ``team_ids=[]`` for all)."""
        params = {
            "teamIds": self._team_ids(team_ids),
            "name": name,
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager("/teams", Team, params, page=page, page_size=page_size)

    async def retrieve(self, team: Team | str) -> Team:
        """One team by id."""
        return await self._call("GET", path("/teams/{id}", id=ref(team, "team_id", "team")), Team)

    async def create(self, *, name: str) -> Team:
        """Create a team (the spec's body is ``{name}``)."""
        if not name:
            raise ValidationError("a team needs a name")
        return await self._call("POST", "/teams", Team, json={"name": name})

    async def update(self, team: Team | str, *, name: str | None = None) -> Team:
        """Rename a team."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        url = path("/teams/{id}", id=ref(team, "team_id", "team"))
        return await self._call("PATCH", url, Team, json=body)

    async def delete(self, team: Team | str) -> None:
        """Delete a team.

        ``DELETE /teams/{id}`` is not in the platform's OpenAPI document; it is offered because
        the official SDK calls it. A server that does not serve it answers 404.
        """
        await self._send("DELETE", path("/teams/{id}", id=ref(team, "team_id", "team")))


class Teams(Facade[AsyncTeams], mirrors=AsyncTeams):
    """Blocking twin of :class:`AsyncTeams`."""

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        name: str | None = None,
        team_ids: Ids | None = None,
    ) -> Pager[Team]:
        """Teams, a page at a time (default: the client's team; ``team_ids=[]`` for all)."""
        return Pager(
            self._wrapped.list(
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                name=name,
                team_ids=team_ids,
            )
        )

    def retrieve(self, team: Team | str) -> Team:
        """One team by id."""
        return self._run(self._wrapped.retrieve, team)

    def create(self, *, name: str) -> Team:
        """Create a team (the spec's body is ``{name}``)."""
        return self._run(self._wrapped.create, name=name)

    def update(self, team: Team | str, *, name: str | None = None) -> Team:
        """Rename a team."""
        return self._run(self._wrapped.update, team, name=name)

    def delete(self, team: Team | str) -> None:
        """Delete a team.

        ``DELETE /teams/{id}`` is not in the platform's OpenAPI document; it is offered because
        the official SDK calls it. A server that does not serve it answers 404.
        """
        return self._run(self._wrapped.delete, team)


class AsyncTeamUsers(ModeratelyResource):
    """Team memberships: who is in which team, with which role."""

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        team_user_ids: Ids | None = None,
        user_ids: Ids | None = None,
        roles: Ids | None = None,
        name_like: str | None = None,
        email_like: str | None = None,
        team_ids: Ids | None = None,
    ) -> AsyncPager[TeamUser]:
        """Memberships, a page at a time (default: of the client's team; ``team_ids=[]``: all)."""
        params = {
            "teamIds": self._team_ids(team_ids),
            "teamUserIds": ids(team_user_ids),
            "userIds": ids(user_ids),
            "roles": ids(roles),
            "nameLike": name_like,
            "emailLike": email_like,
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager("/team-users", TeamUser, params, page=page, page_size=page_size)

    async def retrieve(self, team_user: TeamUser | str) -> TeamUser:
        """One membership by id."""
        url = path("/team-users/{id}", id=ref(team_user, "team_user_id", "team user"))
        return await self._call("GET", url, TeamUser)

    async def update(
        self,
        team_user: TeamUser | str,
        *,
        role: str | None = None,
        is_default: bool | None = None,
    ) -> TeamUser:
        """Change a membership's role (``admin``/``member``) or make it the user's default."""
        body: dict[str, Any] = {}
        if role is not None:
            body["role"] = role
        if is_default is not None:
            body["isDefault"] = is_default
        url = path("/team-users/{id}", id=ref(team_user, "team_user_id", "team user"))
        return await self._call("PATCH", url, TeamUser, json=body)

    async def delete(self, team_user: TeamUser | str) -> None:
        """Remove a user from a team."""
        url = path("/team-users/{id}", id=ref(team_user, "team_user_id", "team user"))
        await self._send("DELETE", url)


class TeamUsers(Facade[AsyncTeamUsers], mirrors=AsyncTeamUsers):
    """Blocking twin of :class:`AsyncTeamUsers`."""

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        team_user_ids: Ids | None = None,
        user_ids: Ids | None = None,
        roles: Ids | None = None,
        name_like: str | None = None,
        email_like: str | None = None,
        team_ids: Ids | None = None,
    ) -> Pager[TeamUser]:
        """Memberships, a page at a time (default: of the client's team; ``team_ids=[]``: all)."""
        return Pager(
            self._wrapped.list(
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                team_user_ids=team_user_ids,
                user_ids=user_ids,
                roles=roles,
                name_like=name_like,
                email_like=email_like,
                team_ids=team_ids,
            )
        )

    def retrieve(self, team_user: TeamUser | str) -> TeamUser:
        """One membership by id."""
        return self._run(self._wrapped.retrieve, team_user)

    def update(
        self,
        team_user: TeamUser | str,
        *,
        role: str | None = None,
        is_default: bool | None = None,
    ) -> TeamUser:
        """Change a membership's role (``admin``/``member``) or make it the user's default."""
        return self._run(self._wrapped.update, team_user, role=role, is_default=is_default)

    def delete(self, team_user: TeamUser | str) -> None:
        """Remove a user from a team."""
        return self._run(self._wrapped.delete, team_user)
