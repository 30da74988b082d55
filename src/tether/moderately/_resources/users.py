"""Users: list, retrieve, update, and the teams a user belongs to."""

from __future__ import annotations

import builtins

from tether._core.blocking import Facade
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path, response_json
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, order, ref
from tether.moderately.models import Team, TeamUser, User

__all__ = ["AsyncUsers", "Users"]


class AsyncUsers(ModeratelyResource):
    """Users of the client's team.

    Example::

        async for user in client.users.list():
            print(user.display_name())
    """

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        user_ids: Ids | None = None,
        user_emails: Ids | None = None,
        full_name_like: str | None = None,
        nickname_like: str | None = None,
        team_ids: Ids | None = None,
    ) -> AsyncPager[User]:
        """Users, a page at a time (iterate for every user; the first page has ``["items"]``).

        Args:
            page: the first page to fetch (1-based).
            page_size: users per page (max 1000).
            order_by: ``createdAt`` or ``fullName`` (``created_at`` is accepted too).
            order_direction: ``asc`` or ``desc``.
            user_ids: only these users.
            user_emails: only these users.
            full_name_like: case-insensitive substring filters.
            nickname_like: case-insensitive substring filters.
            team_ids: members of these teams (default: the client's team; ``[]`` for all).
        """
        params = {
            "teamIds": self._team_ids(team_ids),
            "userIds": ids(user_ids),
            "userEmails": ids(user_emails),
            "fullNameLike": full_name_like,
            "nicknameLike": nickname_like,
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager("/users", User, params, page=page, page_size=page_size)

    async def retrieve(self, user: User | str) -> User:
        """One user by id."""
        url = path("/users/{id}", id=ref(user, "user_id", "user"))
        return await self._call("GET", url, User)

    async def update(self, user: User | str, *, full_name: str) -> User:
        """Change a user's full name; returns the user.

        The spec's body is ``{fullName}`` only (the official SDK also sends a nickname, which
        the spec does not declare). When the server answers without a body, the user is read
        back.
        """
        url = path("/users/{id}", id=ref(user, "user_id", "user"))
        response = await self._request("PATCH", url, json={"fullName": full_name})
        if not response.content:
            return await self.retrieve(user)
        return self._decode(response_json(response), User, response=response)

    async def get_teams(self, user: User | str) -> builtins.list[Team]:
        """The teams *user* belongs to (that the client can see).

        Read through the spec's routes: the user's memberships (``/team-users``), then those
        teams (``/teams``).
        """
        user_id = ref(user, "user_id", "user")
        team_ids: builtins.list[str] = []
        memberships = self._client.team_users.list(user_ids=[user_id], team_ids=[], page_size=100)
        async for member in memberships:
            if member.team_id not in team_ids:
                team_ids.append(member.team_id)
        if not team_ids:
            return []
        teams = self._client.teams.list(team_ids=team_ids, page_size=100)
        return [team async for team in teams]

    async def memberships(self, user: User | str) -> builtins.list[TeamUser]:
        """Every team membership of *user* (``/team-users?userIds=…``)."""
        user_id = ref(user, "user_id", "user")
        listing = self._client.team_users.list(user_ids=[user_id], team_ids=[], page_size=100)
        return await listing.to_list()


class Users(Facade[AsyncUsers], mirrors=AsyncUsers):
    """Blocking twin of :class:`AsyncUsers`."""

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        user_ids: Ids | None = None,
        user_emails: Ids | None = None,
        full_name_like: str | None = None,
        nickname_like: str | None = None,
        team_ids: Ids | None = None,
    ) -> Pager[User]:
        """Users, a page at a time (iterate for every user; the first page has ``["items"]``).

        Args:
            page: the first page to fetch (1-based).
            page_size: users per page (max 1000).
            order_by: ``createdAt`` or ``fullName`` (``created_at`` is accepted too).
            order_direction: ``asc`` or ``desc``.
            user_ids: only these users.
            user_emails: only these users.
            full_name_like: case-insensitive substring filters.
            nickname_like: case-insensitive substring filters.
            team_ids: members of these teams (default: the client's team; ``[]`` for all).
        """
        return Pager(
            self._wrapped.list(
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                user_ids=user_ids,
                user_emails=user_emails,
                full_name_like=full_name_like,
                nickname_like=nickname_like,
                team_ids=team_ids,
            )
        )

    def retrieve(self, user: User | str) -> User:
        """One user by id."""
        return self._run(self._wrapped.retrieve, user)

    def update(self, user: User | str, *, full_name: str) -> User:
        """Change a user's full name; returns the user.

        The spec's body is ``{fullName}`` only (the official SDK also sends a nickname, which
        the spec does not declare). When the server answers without a body, the user is read
        back.
        """
        return self._run(self._wrapped.update, user, full_name=full_name)

    def get_teams(self, user: User | str) -> builtins.list[Team]:
        """The teams *user* belongs to (that the client can see).

        Read through the spec's routes: the user's memberships (``/team-users``), then those
        teams (``/teams``).
        """
        return self._run(self._wrapped.get_teams, user)

    def memberships(self, user: User | str) -> builtins.list[TeamUser]:
        """Every team membership of *user* (``/team-users?userIds=…``)."""
        return self._run(self._wrapped.memberships, user)
