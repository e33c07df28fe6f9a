"""Ayla factory log lines (AFS spec §1.8), versions 2, 3 and 4.

One line per device event, at most 255 characters, comma separated, no
commas inside a field. Field order follows the lines real tools wrote (the
seed's four examples): in version 3 ``mfg_sw_version`` comes right after
``extra``, and a version-3 line may leave ``extra`` out altogether (16
fields); version 4 puts ``mfg_sw_version`` after ``odm`` and adds
``wifi_setup_key``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

MAX_LINE = 255
STATUSES = ("pass", "fail", "label", "config", "config_test", "verify", "assign")
TIMESTAMP_FORMAT = "%Y/%m/%d %H:%M:%S UTC"

V2 = ("version", "time", "timestamp", "status", "err_code", "model", "dsn", "mac", "mfg_model", "mfg_sn",
      "hwsig", "extra")
V3 = (*V2, "mfg_sw_version", "oem_id", "oem_model", "ads_connect_flag", "odm")
V3_NO_EXTRA = tuple(f for f in V3 if f != "extra")
V4 = (*V2, "oem_id", "oem_model", "ads_connect_flag", "odm", "mfg_sw_version", "wifi_setup_key")
LAYOUTS: dict[int, tuple[tuple[str, ...], ...]] = {2: (V2,), 3: (V3, V3_NO_EXTRA), 4: (V4,)}


class FactoryLogError(ValueError):
    """A factory log line that cannot be written or parsed; names the field."""


@dataclass(frozen=True)
class FactoryLogEntry:
    version: int
    time: int
    status: str
    model: str
    err_code: int | None = 0
    dsn: str = ""
    mac: str = ""
    mfg_model: str = ""
    mfg_sn: str = ""
    hwsig: str = ""
    extra: str = ""
    oem_id: str = ""
    oem_model: str = ""
    ads_connect_flag: str = ""
    odm: str = ""
    mfg_sw_version: str = ""
    wifi_setup_key: str = ""
    timestamp: str = ""

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.time, UTC)


def _text(name: str, value: object) -> str:
    text = "" if value is None else str(value)
    if "," in text:
        raise FactoryLogError(f"field {name}: contains a comma: {text[:40]!r}")
    if "\n" in text or "\r" in text:
        raise FactoryLogError(f"field {name}: contains a line break")
    return text


def format_line(entry: FactoryLogEntry) -> str:
    """The log line for ``entry``; refuses commas in fields and lines over 255 characters."""
    _validate(entry)
    values = asdict(entry)
    values["timestamp"] = entry.timestamp or entry.when.strftime(TIMESTAMP_FORMAT)
    values["err_code"] = "" if entry.err_code is None else str(entry.err_code)
    layout = LAYOUTS[entry.version][0]
    line = ",".join(_text(name, values[name]) for name in layout)
    if len(line) > MAX_LINE:
        raise FactoryLogError(f"line is {len(line)} characters, the limit is {MAX_LINE}")
    return line


def parse_line(line: str) -> FactoryLogEntry:
    line = line.rstrip("\r\n")
    if len(line) > MAX_LINE:
        raise FactoryLogError(f"line is {len(line)} characters, the limit is {MAX_LINE}")
    parts = line.split(",")
    try:
        version = int(parts[0])
    except ValueError:
        raise FactoryLogError(f"field version: {parts[0][:10]!r} is not an integer") from None
    if version not in LAYOUTS:
        raise FactoryLogError(f"field version: {version} is not 2, 3 or 4")
    layout = next((lay for lay in LAYOUTS[version] if len(lay) == len(parts)), None)
    if layout is None:
        counts = " or ".join(str(len(lay)) for lay in LAYOUTS[version])
        raise FactoryLogError(f"version {version} has {counts} fields, this line has {len(parts)} "
                              "(a comma inside a field?)")
    raw = dict(zip(layout, parts, strict=True))
    try:
        time_value = int(raw.pop("time"))
    except ValueError:
        raise FactoryLogError("field time: not an integer") from None
    err = raw.pop("err_code")
    try:
        err_code = int(err) if err else None
    except ValueError:
        raise FactoryLogError(f"field err_code: {err[:10]!r} is not an integer") from None
    raw.pop("version")
    known = {f.name for f in fields(FactoryLogEntry)}
    entry = FactoryLogEntry(version=version, time=time_value, err_code=err_code,
                            **{k: v for k, v in raw.items() if k in known})
    _validate(entry)
    return entry


def _validate(entry: FactoryLogEntry) -> None:
    if entry.version not in LAYOUTS:
        raise FactoryLogError(f"field version: {entry.version} is not 2, 3 or 4")
    if entry.status not in STATUSES:
        raise FactoryLogError(f"field status: {entry.status!r} is not one of {', '.join(STATUSES)}")
    if entry.timestamp:
        try:
            datetime.strptime(entry.timestamp, TIMESTAMP_FORMAT)
        except ValueError:
            raise FactoryLogError(f"field timestamp: {entry.timestamp!r} is not 'YYYY/MM/DD HH:MM:SS UTC'") from None
    if entry.ads_connect_flag not in ("", "0", "1", "true", "false"):
        raise FactoryLogError(f"field ads_connect_flag: {entry.ads_connect_flag!r} is not 1, 0 or empty")
    if entry.version == 4 and len(entry.wifi_setup_key) > 32:
        raise FactoryLogError("field wifi_setup_key: longer than 16 bytes in hex")
