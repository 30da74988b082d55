"""Static leader data (descriptors, models, protocols, demo profiles) and YAML parsing.

The data files in ``data/`` were captured from a real 26.11.1 leader (see ``data/NOTICE.md``).
YAML (calibrations, experiment profiles) is parsed with PyYAML when it is installed; without it
those routes answer 500 with a message saying so.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
from functools import cache
from importlib import resources
from typing import Any, cast

__all__ = ["YamlError", "catalog", "data_text", "default_config", "dump_yaml", "load_yaml"]


@cache
def _load(name: str) -> Any:
    return json.loads(data_text(name))


def data_text(name: str) -> str:
    """The text of ``data/<name>``."""
    return resources.files("tether.testing.pioreactor").joinpath(f"data/{name}").read_text("utf-8")


def catalog(name: str) -> Any:
    """A fresh copy of the JSON data file ``data/<name>``.

    >>> catalog("models.json")["models"][0]["model_name"]
    'pioreactor_40ml'
    """
    return copy.deepcopy(_load(name))


class YamlError(ValueError):
    """The YAML text could not be parsed (or PyYAML is missing)."""


def _plain(value: Any) -> Any:
    """Turn YAML timestamps back into text, as msgspec keeps them (``2026-11-22T00:00:00Z``)."""
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        mapping: dict[Any, Any] = cast(Any, value)
        return {str(k): _plain(v) for k, v in mapping.items()}
    if isinstance(value, list):
        items: list[Any] = cast(Any, value)
        return [_plain(item) for item in items]
    return value


def load_yaml(text: str) -> Any:
    """Parse YAML with PyYAML's safe loader; raises :class:`YamlError`."""
    try:
        yaml = importlib.import_module("yaml")
    except ImportError as exc:
        raise YamlError("the Pioreactor simulator needs PyYAML to parse YAML bodies") from exc
    try:
        loaded = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError and its subclasses
        raise YamlError(str(exc)) from None
    return _plain(loaded)


def dump_yaml(data: Any) -> str:
    """Serialize *data* as block YAML (PyYAML), keeping key order."""
    try:
        yaml = importlib.import_module("yaml")
    except ImportError as exc:
        raise YamlError("the Pioreactor simulator needs PyYAML to write YAML") from exc
    dumped: str = yaml.safe_dump(data, sort_keys=False)
    return dumped


def default_config(
    leader: str, units: list[str], mqtt_host: str, mqtt_port: int, http_port: int
) -> str:
    """The shared ``config.ini`` of a simulated cluster (the stock sections a leader ships)."""
    addresses = "\n".join(f"{unit}=127.0.0.1" for unit in units)
    return f"""; simulated by tether.testing.pioreactor
[PWM]
1=stirring
2=waste
3=media
4=alt_media
5=heating

[leds]
A=IR
B=white_light
C=
D=

[monitor.config]
enable_button=auto
self_check_interval_hours=12

[bioreactor]
efflux_tube_volume_ml=14
initial_volume_ml=14
initial_alt_media_fraction=0.0
initial_cumulative_media_added_ml=0
initial_cumulative_alt_media_added_ml=0
initial_cumulative_waste_removed_ml=0

[stirring.config]
initial_target_rpm=500
initial_duty_cycle=15
pwm_hz=200
use_rpm=True
duration_between_updates_seconds=23
post_delay_duration=0.25
pre_delay_duration=0.25
enable_dodging_od=false
target_rpm_during_od_reading=0
target_rpm_outside_od_reading=500

[stirring.pid]
Kp=0.007
Ki=0.0
Kd=0.0

[od_config.photodiode_channel]
1=REF
2=90

[od_reading.config]
samples_per_second=0.2
turn_off_leds_during_reading=1
pd_reference_ema=0.4
ir_led_intensity=auto
ref_normalization=unity
smoothing_penalizer=6.0
duration_between_led_off_and_od_reading=0.1

[growth_rate_calculating.config]
ekf_outlier_std_threshold=3.0
samples_for_od_statistics=35

[dosing_automation.config]
pause_between_subdoses_seconds=0.5
waste_removal_multiplier=2.0
max_volume_to_warn=17.0
max_volume_to_stop=18.0
max_subdose=1.0
experimental_pump_malfunction_tolerance=0.2
experimental_detect_pump_malfunction=False

[dosing_automation.turbidostat]
biomass_signal=auto

[dosing_automation.pid_morbidostat]
Kp=5
Ki=0
Kd=0

[temperature_automation.thermostat]
Kp=.01
Ki=.01
Kd=.01

[storage]
database=/home/pioreactor/.pioreactor/storage/pioreactor.sqlite
temporary_cache=/home/pioreactor/.pioreactor/storage/local_intermittent_pioreactor_metadata.sqlite
persistent_cache=/home/pioreactor/.pioreactor/storage/local_persistent_pioreactor_metadata.sqlite
number_of_backup_replicates_to_workers=0

[logging]
log_file=/home/pioreactor/logs/pioreactor.log
ui_log_file=/home/pioreactor/logs/pioreactor.log
ui_log_level=DEBUG
console_log_level=DEBUG

[cluster.topology]
leader_hostname={leader}
leader_address=127.0.0.1

[cluster.addresses]
{addresses}

[ui]
port={http_port}
proto=http

[ui.overview.settings]
filtered_od_lookback_minutes=240
raw_od_lookback_minutes=240
log_display_count=65
time_display_mode=hours

[mqtt]
username=pioreactor
broker_address={mqtt_host}
broker_port={mqtt_port}
broker_ws_port=9001
ws_protocol=ws
use_tls=0
"""
