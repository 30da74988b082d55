"""tether: async-first clients, with blocking facades, for remote job platforms.

Platforms live in subpackages — :mod:`tether.pioreactor`, :mod:`tether.moderately`,
:mod:`tether.abeja`, :mod:`tether.ratio1` — and share what is exported here: the error
hierarchy, :class:`Job` (anything that finishes later), pagers and the retry policy.
"""

import logging as _logging

from tether._core.blocking import FacadeDeadlockError
from tether._core.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    JobCancelledError,
    JobError,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    TetherError,
    UnprocessableEntityError,
    ValidationError,
)
from tether._core.http import RetryPolicy
from tether._core.jobs import (
    BlockingJob,
    BlockingJobMethod,
    Job,
    JobMethod,
    JobState,
    JobStatus,
    PollPolicy,
    Progress,
    ResumeToken,
)
from tether._core.pagination import AsyncPager, Page, Pager
from tether._version import __version__

_logging.getLogger("tether").addHandler(_logging.NullHandler())

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "BlockingJob",
    "BlockingJobMethod",
    "ClientClosedError",
    "ConflictError",
    "FacadeDeadlockError",
    "InternalServerError",
    "Job",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "JobMethod",
    "JobState",
    "JobStatus",
    "JobTimeoutError",
    "NotFoundError",
    "Page",
    "Pager",
    "PermissionDeniedError",
    "PollPolicy",
    "Progress",
    "RateLimitError",
    "ResponseDecodeError",
    "ResumeToken",
    "RetryPolicy",
    "TetherError",
    "UnprocessableEntityError",
    "ValidationError",
    "__version__",
]
