"""``AT+GMR`` answers, in every format Espressif's firmware has printed.

``Bin version`` is the firmware build (``CONFIG_APP_PROJECT_VER``, at most 32 bytes, set in
menuconfig) followed by the module name from ``factory_param``:

    v4.1.1.0(MINI-1)        released v3.x, v4.x and v5.x firmware: a leading ``v``, four numbers
    v3.4.0.0-dev(MINI)      a development build: a suffix after the numbers
    2.2.0(WROOM-32)         released 2.x firmware: three numbers, no ``v``
    Bin version(Wroom 02):1.7.4   ESP8266 NonOS and ESP32 1.x firmware: the module before the colon

The ``AT version`` line names the closed-source core library:
``4.1.1.0(7c1f11c - ESP32C3 - Jul 23 2025 06:50:21)``, or on 1.x ``1.7.4.0(May 11 2020 19:13:04)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from linegate.drivers.dut.errors import DutProtocolError

# "v4.1.1.0-dev(MINI-1)" -> numbers "4.1.1.0", suffix "-dev", module "MINI-1"
_VERSION = re.compile(r"^v?(?P<numbers>\d+(?:\.\d+)*)(?P<suffix>[-+~][^()\s]*)?(?:\((?P<module>[^()]*)\))?$")
# "Bin version(Wroom 02):1.7.4" (1.x) or "Bin version:v4.1.1.0(MINI-1)"
_BIN_LINE = re.compile(r"^Bin version(?:\((?P<module>[^()]*)\))?:\s*(?P<text>.*)$")
_AT_CHIP = re.compile(r"\(\s*\S+\s+-\s+(?P<chip>[A-Z0-9]+)\s+-")


@dataclass(frozen=True, slots=True)
class FirmwareInfo:
    """One ``AT+GMR`` answer, as printed and taken apart."""

    at_version: str  # "4.1.1.0(7c1f11c - ESP32C3 - Jul 23 2025 06:50:21)"
    sdk_version: str  # "v5.0.9-dirty"
    compile_time: str  # "Jul 23 2025 07:12:44" (the commit in brackets is dropped)
    bin_version: str  # as printed after "Bin version:", e.g. "v4.1.1.0(MINI-1)"; "" if absent
    version: tuple[int, ...] = ()  # the firmware build's numbers, (4, 1, 1, 0); () if they do not parse
    suffix: str = ""  # "-dev" for a development build
    module: str = ""  # "MINI-1", from the bin line ("" if it names none)
    at_core: tuple[int, ...] = ()  # the AT core library's numbers, (4, 1, 1, 0)
    chip: str = ""  # "ESP32C3", from the AT version line on 2.x and later
    raw: str = ""  # every answer line, joined by "\n"

    @property
    def version_text(self) -> str:
        """The build's numbers as text, ``"4.1.1.0"`` (``""`` when they do not parse)."""
        return ".".join(map(str, self.version))


def _numbers(text: str) -> tuple[tuple[int, ...], str, str]:
    match = _VERSION.match(text.strip())
    if match is None:
        return (), "", ""
    numbers = tuple(int(n) for n in match["numbers"].split("."))
    return numbers, match["suffix"] or "", match["module"] or ""


def parse_gmr(lines: list[str], port: str) -> FirmwareInfo:
    """Take an ``AT+GMR`` answer (lines without echo and ``OK``) apart.

    An unusual ``Bin version`` (a custom build string) keeps ``version == ()``: the plan's limit on
    the printed text decides. A missing ``AT version`` line means the answer is not ``AT+GMR``'s.
    """
    at_version = sdk = compile_time = bin_version = module = ""
    version: tuple[int, ...] = ()
    suffix = ""
    for line in lines:
        if line.startswith("AT version:"):
            at_version = line.removeprefix("AT version:").strip()
        elif line.startswith("SDK version:"):
            sdk = line.removeprefix("SDK version:").strip()
        elif line.startswith("compile time"):
            compile_time = line.removeprefix("compile time").split(":", 1)[-1].strip()
        elif bin_line := _BIN_LINE.match(line):
            bin_version = bin_line["text"].strip()
            version, suffix, module = _numbers(bin_version)
            module = bin_line["module"] or module
    if not at_version:
        raise DutProtocolError(port, "AT+GMR", "answer lacks the 'AT version:' line", "\n".join(lines))
    at_core, _, _ = _numbers(at_version.split("(", 1)[0])
    chip = _AT_CHIP.search(at_version)
    return FirmwareInfo(
        at_version=at_version, sdk_version=sdk, compile_time=compile_time, bin_version=bin_version,
        version=version, suffix=suffix, module=module, at_core=at_core,
        chip=chip["chip"] if chip else "", raw="\n".join(lines),
    )
