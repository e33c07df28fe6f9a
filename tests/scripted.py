"""Scripted stand-ins that check a driver's exact traffic (PyMeasure style):
every expected command must arrive in order, and every pair must be used."""

from __future__ import annotations

from collections import deque


class ScriptedPort:
    """A pyserial-like port: ``pairs`` of (bytes the host must write, bytes to answer)."""

    port = "scripted://dut"

    def __init__(self, pairs: list[tuple[bytes, bytes]]) -> None:
        self.pairs = deque(pairs)
        self.out = bytearray()
        self.timeout: float | None = 0
        self.written: list[bytes] = []

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def write(self, data: bytes) -> int:
        assert self.pairs, f"unexpected write {data!r}: no pairs left"
        expected, answer = self.pairs.popleft()
        assert data == expected, f"host wrote {data!r}, expected {expected!r}"
        self.written.append(data)
        self.out += answer
        return len(data)

    def read(self, size: int = 1) -> bytes:
        data = bytes(self.out[:size])
        del self.out[:size]
        return data

    def close(self) -> None:
        pass

    def assert_all_used(self) -> None:
        assert not self.pairs, f"pairs never used: {list(self.pairs)}"


class ScriptedResource:
    """A pyvisa-resource-like object with (command, answer-or-None) pairs."""

    resource_name = "SCRIPTED::INSTR"

    def __init__(self, pairs: list[tuple[str, str | None]]) -> None:
        self.pairs = deque(pairs)

    def _take(self, command: str) -> str | None:
        assert self.pairs, f"unexpected {command!r}: no pairs left"
        expected, answer = self.pairs.popleft()
        assert command == expected, f"sent {command!r}, expected {expected!r}"
        return answer

    def query(self, command: str) -> str:
        answer = self._take(command)
        assert answer is not None, f"{command!r} is a write in the script"
        return answer

    def write(self, command: str) -> None:
        assert self._take(command) is None, f"{command!r} is a query in the script"

    def close(self) -> None:
        pass

    def assert_all_used(self) -> None:
        assert not self.pairs, f"pairs never used: {list(self.pairs)}"
