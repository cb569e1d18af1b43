"""`fixative info`: version, model, devices, defaults and the auxiliary graphs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .. import __version__
from ..errors import FixativeError
from ..protection import graphs
from ..protection import view as vw
from ..protection.settings import (
    DEVICE_HELP,
    DEVICES,
    MAX_STEPS,
    MODE_TABLE,
    MODES,
    ProtectSettings,
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    i = sub.add_parser("info", help="show version, model and devices")
    i.add_argument("--device", choices=DEVICES, default="auto", help=_device_help())
    i.add_argument("--model", metavar="ONNX", help="model file (default: the shipped model)")
    i.add_argument("--json", action="store_true")
    return i


def _device_help() -> str:
    return "; ".join(f"{d} = {h}" for d, h in DEVICE_HELP.items()) + " (default: %(default)s)"


def _version_of(module: str) -> str:
    from importlib import import_module

    try:
        return str(import_module(module).__version__)
    except ImportError:
        return "not installed"


def run(args: argparse.Namespace) -> int:
    from ..protection import model as model_mod

    info: dict[str, Any] = {
        "fixative": __version__,
        "python": sys.version.split()[0],
        "numpy": _version_of("numpy"),
        "pillow": _version_of("PIL"),
        "onnxruntime": _version_of("onnxruntime"),
    }
    status = 0
    try:
        spec = model_mod.load_spec(args.model)
        info["model"] = {
            "path": spec.path,
            "model_id": spec.model_id,
            "sha256": spec.sha256,
            "sha256_verified": spec.shipped,
            "epsilon": spec.epsilon,
            "receptive_field": spec.receptive_field,
            "tile_overlap": spec.tile_overlap,
            "target_encoder": spec.target_encoder,
        }
    except FixativeError as exc:
        info["model"] = {"error": str(exc)}
        status = 1
    try:
        available = model_mod.available_providers()
        info["providers"] = available
        info["device"] = args.device
        info["chosen_provider"] = model_mod.choose_providers(args.device, available)[0]
        if "error" not in info["model"]:
            # What a session really runs on (onnxruntime may fall back, e.g. without a driver).
            session = model_mod.get_model(args.model, args.device)
            info["chosen_provider"] = session.provider
    except FixativeError as exc:
        info["providers_error"] = str(exc)
        status = 1
    defaults = ProtectSettings()
    info["protect_defaults"] = {
        "mode": defaults.mode,
        "modes": list(MODES),
        "steps": defaults.n_steps,
        "mode_table": {
            name: {"steps": m.steps, "view": m.view, "help": m.help}
            for name, m in MODE_TABLE.items()
        },
        "max_steps": MAX_STEPS,
        "view": defaults.view,
        "view_side": vw.DEFAULT_SIDE,
    }
    info["graphs"] = graphs.status()
    if any("error" in g for g in info["graphs"]):
        status = 1  # thorough mode (the default) and `check --original` need them
    if args.json:
        print(json.dumps(info, indent=2))
        return status
    for key in ("fixative", "python", "numpy", "pillow", "onnxruntime"):
        print(f"{key + ':':<14}{info[key]}")
    m = info["model"]
    if "error" in m:
        print(f"{'model:':<14}ERROR {m['error']}")
    else:
        verified = "verified against manifest" if m["sha256_verified"] else "not in a manifest"
        eps = ", ".join(f"{k} {v * 255:.1f}/255" for k, v in m["epsilon"].items())
        print(f"{'model:':<14}{m['model_id']} ({m['path']})")
        print(f"{'sha256:':<14}{m['sha256']} ({verified})")
        print(f"{'strengths:':<14}{eps}")
    if "providers" in info:
        print(f"{'providers:':<14}{', '.join(info['providers'])}")
        print(f"{'device:':<14}{args.device} -> {info['chosen_provider']}")
    else:
        print(f"{'providers:':<14}ERROR {info['providers_error']}")
    d = info["protect_defaults"]
    print(f"{'mode:':<14}{d['mode']} (of {', '.join(d['modes'])}), {d['steps']} steps")
    side = d["view_side"]
    print(
        f"{'view:':<14}{d['view']} (about {side}x{side} = {side * side / 1e6:.1f} MP; "
        "or native, or N)"
    )
    print("graphs:")
    for g in info["graphs"]:
        if "file" not in g:
            print(f"  {g['role']:<14}ERROR {g['error']}")
            continue
        state = (
            "verified against manifest"
            if g["sha256_verified"]
            else ("ERROR " + g["error"] if "error" in g else "not pinned by the manifest")
        )
        print(f"  {g['role']:<14}{g['file']:<26}{g['sha256'][:12]}  {state}")
    return status
