"""An in-process simulator of a Pioreactor cluster's leader (REST + MQTT).

It answers ``/api/*`` and ``/unit_api/*`` like the real leader of the chosen version
(``shared/reference/pioreactor.md``): 202 + task answers with the version's polling rules,
per-unit fan-out envelopes (including unreachable and failing units), strict bodies, the flat,
nested or bare error shapes, the ``Origin`` rule and the 1 s run debounce. Its jobs live on
MQTT: retained ``$state`` and settings, ``…/set`` and ``$state/set``, logs, and OD readings that
follow a logistic growth curve; what they publish is copied into the tables the time-series,
log and export routes read, as ``mqtt_to_db_streaming`` does on a real leader.

Example::

    from tether.testing.pioreactor import Simulator

    async with Simulator(time_scale=3600, od_interval=0.5) as sim:
        await sim.create_experiment("demo", assign=True)
        print(sim.info())   # {"URL": ..., "MQTT": ..., "PIO_VERSION": "26.11.1"}
"""

from tether.testing.pioreactor._contract import KNOWN_VERSIONS, Contract
from tether.testing.pioreactor._growth import Culture
from tether.testing.pioreactor._simulator import Simulator
from tether.testing.pioreactor._units import SimUnit

__all__ = ["KNOWN_VERSIONS", "Contract", "Culture", "SimUnit", "Simulator"]
