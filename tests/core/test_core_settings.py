"""fixative.protection.settings, fixative.errors, fixative.protection.report and the lazy public
API."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import fixative
import pytest
from fixative import DeclarationSettings, ProtectReport, ProtectSettings, SettingsError


def test_defaults_and_round_trip() -> None:
    s = ProtectSettings()
    assert (s.strength, s.device, s.threads, s.model_path) == ("medium", "auto", None, None)
    assert s.declarations == DeclarationSettings()
    custom = ProtectSettings(
        strength="high",
        device="cpu",
        threads=2,
        model_path="/m.onnx",
        declarations=DeclarationSettings(creator="An Artist"),
    )
    data = json.loads(json.dumps(custom.to_dict()))  # what a host would persist
    assert ProtectSettings.from_dict(data) == custom
    assert data["declarations"]["creator"] == "An Artist"


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ProtectSettings().strength = "high"  # type: ignore[misc]
    assert ProtectSettings().replace(strength="low").strength == "low"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"strength": "max"}, "strength"),
        ({"device": "tpu"}, "device"),
        ({"threads": 0}, "threads"),
        ({"threads": True}, "threads"),
        ({"declarations": "yes"}, "declarations"),
    ],
)
def test_bad_settings(kwargs: dict, needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        ProtectSettings(**kwargs)


def test_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        ProtectSettings.from_dict({"strenght": "high"})


def test_report_json_and_summary() -> None:
    r = ProtectReport(
        strength="medium",
        epsilon=4 / 255,
        psnr=math.inf,
        max_abs_diff=0.0,
        seconds=0.5,
        model_id="m",
        model_sha256="0" * 64,
        device="CPUExecutionProvider",
        width=2,
        height=3,
        tiles=1,
    )
    assert json.loads(json.dumps(r.to_dict()))["psnr"] is None
    assert "PSNR inf dB" in r.summary() and "eps 4.0/255" in r.summary()


def test_import_is_light_and_api_complete() -> None:
    """`import fixative` must not pull numpy or onnxruntime (hosts may lack them)."""
    code = (
        "import sys, fixative, fixative.cli, fixative.protection.model;"
        "import fixative.protection.protect, fixative.jobs.files;"
        "print(sorted(m for m in ('numpy', 'onnxruntime', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for name in fixative.__all__:
        assert getattr(fixative, name) is not None
    with pytest.raises(AttributeError):
        _ = fixative.nothing_here


def test_missing_onnxruntime_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from fixative import MissingDependencyError
    from fixative.protection import model

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(MissingDependencyError, match="pip install onnxruntime"):
        model.available_providers()
