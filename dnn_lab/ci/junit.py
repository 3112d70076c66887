"""JUnit XML, the report every CI system shows as tests: one case per config or gate.

A failed case carries its message with the numbers, so the CI page says why without
opening the log.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from dnn_lab.store import runs


@dataclass(frozen=True, kw_only=True)
class Case:
    """One test case: passed, or failed with a message."""

    name: str
    classname: str
    failed: bool
    message: str
    seconds: float = 0.0


def to_xml(suite: str, cases: list[Case]) -> str:
    failures = sum(case.failed for case in cases)
    root = ET.Element("testsuites", tests=str(len(cases)), failures=str(failures))
    element = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{sum(c.seconds for c in cases):.3f}",
    )
    for case in cases:
        item = ET.SubElement(
            element,
            "testcase",
            name=case.name,
            classname=case.classname,
            time=f"{case.seconds:.3f}",
        )
        if case.failed:
            failure = ET.SubElement(item, "failure", message=case.message, type="failed")
            failure.text = case.message
        else:
            ET.SubElement(item, "system-out").text = case.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def write(path: Path, suite: str, cases: list[Case]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    runs.atomic_write_text(Path(path), to_xml(suite, cases))
