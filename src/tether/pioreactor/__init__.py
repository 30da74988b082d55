"""Pioreactor: the leader API (REST) and live data (MQTT) of a bioreactor cluster.

Example::

    from tether.pioreactor import AsyncPioreactor

    async with AsyncPioreactor("http://pioreactor.local") as client:
        await client.experiments.create("demo")
        await client.experiments.assign("demo", "pio1")
        started = await client.jobs.run("stirring", experiment="demo", options={"target_rpm": 400})
        started.raise_for_failures()
        async with client.events.od_readings(experiment="demo") as readings:
            async for reading in readings:
                print(reading.unit, reading.od)
"""

from tether.pioreactor._client import AsyncPioreactor, Pioreactor
from tether.pioreactor._contract import Contract
from tether.pioreactor.events import (
    EventStream,
    GrowthRate,
    JobStateEvent,
    LogEvent,
    ODReading,
    SettingEvent,
    Temperature,
)
from tether.pioreactor.models import (
    BackgroundJobState,
    CalibrationProtocol,
    Experiment,
    ExperimentProfileFile,
    ExportableDataset,
    ExportResult,
    FanOut,
    FanOutError,
    Health,
    LogEntry,
    LogLevel,
    ModelInfo,
    Point,
    RunningJob,
    TimeSeries,
    UnitError,
    UnitResult,
    Worker,
    WorkerAssignment,
)

__all__ = [
    "AsyncPioreactor",
    "BackgroundJobState",
    "CalibrationProtocol",
    "Contract",
    "EventStream",
    "Experiment",
    "ExperimentProfileFile",
    "ExportResult",
    "ExportableDataset",
    "FanOut",
    "FanOutError",
    "GrowthRate",
    "Health",
    "JobStateEvent",
    "LogEntry",
    "LogEvent",
    "LogLevel",
    "ModelInfo",
    "ODReading",
    "Pioreactor",
    "Point",
    "RunningJob",
    "SettingEvent",
    "Temperature",
    "TimeSeries",
    "UnitError",
    "UnitResult",
    "Worker",
    "WorkerAssignment",
]
