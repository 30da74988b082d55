"""An in-process simulator of the Moderately AI platform.

:class:`Simulator` serves every path of the platform's OpenAPI document from memory on
a loopback socket, including presigned object-store URLs and executions that progress
on a configurable clock. It also accepts what the official ``moderatelyai-sdk`` really
sends where that deviates from the spec.

Example::

    from tether.testing.moderately import Simulator

    async with Simulator(seed=7, step_seconds=0.05) as sim:
        env = sim.info()          # URL, MODERATELY_API_KEY, MODERATELY_TEAM_ID, ...
        sim.fail_next(1, 503, "/datasets")
"""

from tether.testing.moderately._core import BUCKET, SPEC_VERSION
from tether.testing.moderately._models import (
    ExecutionPlan,
    RecordedRequest,
    Route,
    SentEmail,
    StoredObject,
)
from tether.testing.moderately._simulator import REDACTED, RESOURCE_KINDS, Simulator

__all__ = [
    "BUCKET",
    "REDACTED",
    "RESOURCE_KINDS",
    "SPEC_VERSION",
    "ExecutionPlan",
    "RecordedRequest",
    "Route",
    "SentEmail",
    "Simulator",
    "StoredObject",
]
