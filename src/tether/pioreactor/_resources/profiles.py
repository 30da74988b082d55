"""Experiment profiles: YAML files on the leader that script jobs over an experiment.

Profiles are sent and read as YAML text (the leader validates them); the list gives each file
with its parsed content. Leaders before 26.2.23 serve them under ``/api/contrib/…``.
"""

from __future__ import annotations

import builtins
from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.resource import path, response_json
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._validation import check_experiment_ref
from tether.pioreactor.models import ExperimentProfileFile

__all__ = ["AsyncProfiles", "Profiles"]

_UNSAFE = frozenset("/\\\0")


def _check_filename(filename: object) -> str:
    if not isinstance(filename, str) or not filename:
        raise ValidationError("filename must be a non-empty string such as 'demo.yaml'")
    if set(filename) & _UNSAFE or filename.startswith("."):
        raise ValidationError(
            f"filename {filename!r} must be a plain file name (no folders, not hidden)"
        )
    if not filename.endswith((".yaml", ".yml")):
        raise ValidationError(f"filename {filename!r} must end in .yaml or .yml")
    return filename


def _check_body(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationError("the profile must be non-empty YAML text")
    return body


class AsyncProfiles(PioreactorResource):
    """Experiment profiles on the leader.

    Example::

        await client.profiles.create("stir.yaml", open("stir.yaml").read())
        for profile in await client.profiles.list():
            print(profile.file, profile.experiment_profile.get("experiment_profile_name"))
    """

    async def _base(self) -> str:
        contract = await self._contract()
        return (
            "/api/contrib/experiment_profiles"
            if contract.contrib_routes
            else ("/api/experiment_profiles")
        )

    async def list(self) -> builtins.list[ExperimentProfileFile]:
        """Every profile on the leader, most recently modified first, parsed."""
        response = await self._request("GET", await self._base())
        return self._decode(
            response_json(response), builtins.list[ExperimentProfileFile], response=response
        )

    async def retrieve(self, filename: str) -> str:
        """The YAML text of profile *filename* (:class:`~tether.NotFoundError` when missing)."""
        _check_filename(filename)
        response = await self._request("GET", await self._base() + path("/{f}", f=filename))
        return response.text()

    async def create(self, filename: str, body: str) -> None:
        """Save a new profile (the leader validates the YAML; an existing name gives 400).

        Args:
            filename: a plain file name ending in ``.yaml`` or ``.yml``.
            body: the profile YAML; it needs at least ``version`` and
                ``experiment_profile_name``.
        """
        _check_filename(filename)
        _check_body(body)
        await self._request("POST", await self._base(), json={"filename": filename, "body": body})

    async def update(self, filename: str, body: str) -> None:
        """Replace profile *filename* with *body* (validated by the leader)."""
        _check_filename(filename)
        _check_body(body)
        contract = await self._contract()
        if contract.contrib_routes:  # the old form takes the file name in the body
            await self._request(
                "PATCH",
                "/api/contrib/experiment_profiles",
                json={"filename": filename, "body": body},
            )
            return
        await self._request(
            "PATCH", path("/api/experiment_profiles/{f}", f=filename), json={"body": body}
        )

    async def delete(self, filename: str) -> None:
        """Delete profile *filename* (:class:`~tether.NotFoundError` when missing)."""
        _check_filename(filename)
        await self._request("DELETE", await self._base() + path("/{f}", f=filename))

    async def running(self, experiment: str) -> builtins.list[dict[str, Any]]:
        """The profiles running in *experiment* (``{"job_name", "experiment", "job_id",
        "settings"}``)."""
        check_experiment_ref(experiment)
        contract = await self._contract()
        if contract.contrib_routes:
            url = path("/api/experiment_profiles/running/experiments/{e}", e=experiment)
        else:
            url = path("/api/experiments/{e}/experiment_profiles/running", e=experiment)
        response = await self._request("GET", url)
        return self._decode(
            response_json(response), builtins.list[dict[str, Any]], response=response
        )

    async def recent(self, experiment: str) -> builtins.list[dict[str, Any]]:
        """Profile runs started in *experiment*, newest first (``{"started_at",
        "experiment_profile_name", "experiment"}``); not on 25.11.19."""
        check_experiment_ref(experiment)
        contract = await self._contract()
        contract.require(contract.has_recent_profile_runs, "recent profile runs", "25.12.10")
        response = await self._request(
            "GET", path("/api/experiments/{e}/experiment_profiles/recent", e=experiment)
        )
        return self._decode(
            response_json(response), builtins.list[dict[str, Any]], response=response
        )


class Profiles(Facade[AsyncProfiles], mirrors=AsyncProfiles):
    """Blocking twin of :class:`AsyncProfiles`."""

    def list(self) -> builtins.list[ExperimentProfileFile]:
        """Every profile on the leader, most recently modified first, parsed."""
        return self._run(self._wrapped.list)

    def retrieve(self, filename: str) -> str:
        """The YAML text of profile *filename* (:class:`~tether.NotFoundError` when missing)."""
        return self._run(self._wrapped.retrieve, filename)

    def create(self, filename: str, body: str) -> None:
        """Save a new profile (the leader validates the YAML; an existing name gives 400).

        Args:
            filename: a plain file name ending in ``.yaml`` or ``.yml``.
            body: the profile YAML; it needs at least ``version`` and
                ``experiment_profile_name``.
        """
        return self._run(self._wrapped.create, filename, body)

    def update(self, filename: str, body: str) -> None:
        """Replace profile *filename* with *body* (validated by the leader)."""
        return self._run(self._wrapped.update, filename, body)

    def delete(self, filename: str) -> None:
        """Delete profile *filename* (:class:`~tether.NotFoundError` when missing)."""
        return self._run(self._wrapped.delete, filename)

    def running(self, experiment: str) -> builtins.list[dict[str, Any]]:
        """The profiles running in *experiment* (``{"job_name", "experiment", "job_id",
        "settings"}``)."""
        return self._run(self._wrapped.running, experiment)

    def recent(self, experiment: str) -> builtins.list[dict[str, Any]]:
        """Profile runs started in *experiment*, newest first (``{"started_at",
        "experiment_profile_name", "experiment"}``); not on 25.11.19."""
        return self._run(self._wrapped.recent, experiment)
