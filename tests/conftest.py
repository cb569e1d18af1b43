"""Shared fixtures: small contract-following ONNX models built with onnx.helper."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

CONTRACT_META = {
    "fixative.contract": "1",
    "fixative.model_id": "test-conv",
    "fixative.epsilon": json.dumps({"low": 2 / 255, "medium": 4 / 255, "high": 8 / 255}),
    "fixative.trained_epsilon": str(4 / 255),
    "fixative.receptive_field": "2",
    "fixative.tile_overlap": "4",
    "fixative.size_multiple": "8",
    "fixative.min_size": "32",
    "fixative.target_encoder": "taef2:" + "0" * 64,
    "fixative.training_data_digest": "1" * 64,
    "fixative.config_digest": "2" * 64,
}


def build_model(
    kind: str = "conv",
    meta: dict[str, str | None] | None = None,
    *,
    input_name: str = "image",
    output_name: str = "delta",
    dtype: int | None = None,
    opset: int = 17,
    seed: int = 0,
) -> bytes:
    """Serialized ONNX model following the contract (unless told otherwise).

    kind "conv": delta = tanh(conv5x5(image)) -> receptive field 2.
    kind "unet": avgpool 2x2/2 -> conv3x3 -> nearest upsample x2 -> conv3x3 -> tanh, a stride-2
    model (size_multiple 2) whose receptive field is 6 pixels (<= 2 + 2*2 + 1, rounded up).
    kind "scaled": delta = 3 * image - 1, clipped by the core to [-1, 1] (tests clipping).
    """
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    dt = TensorProto.FLOAT if dtype is None else dtype
    x = helper.make_tensor_value_info(input_name, dt, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info(output_name, dt, ["N", 3, "H", "W"])
    inits = []
    nodes = []
    final_output = output_name
    if dt != TensorProto.FLOAT:  # a valid graph whose interface has another dtype
        nodes.append(helper.make_node("Cast", [input_name], ["x_f"], to=TensorProto.FLOAT))
        input_name, output_name = "x_f", "y_f"

    def weight(name: str, shape: tuple[int, ...]) -> str:
        w = (rng.standard_normal(shape) * 0.3).astype(np.float32)
        inits.append(numpy_helper.from_array(w, name))
        return name

    if kind == "conv":
        nodes.append(
            helper.make_node("Conv", [input_name, weight("w1", (3, 3, 5, 5))], ["c1"], pads=[2] * 4)
        )
        nodes.append(helper.make_node("Tanh", ["c1"], [output_name]))
    elif kind == "unet":
        nodes += [
            helper.make_node(
                "AveragePool", [input_name], ["p"], kernel_shape=[2, 2], strides=[2, 2]
            ),
            helper.make_node("Conv", ["p", weight("w1", (4, 3, 3, 3))], ["c1"], pads=[1] * 4),
            helper.make_node("Relu", ["c1"], ["r1"]),
        ]
        scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
        inits.append(scales)
        nodes += [
            helper.make_node("Resize", ["r1", "", "scales"], ["u"], mode="nearest"),
            helper.make_node("Conv", ["u", weight("w2", (3, 4, 3, 3))], ["c2"], pads=[1] * 4),
            helper.make_node("Tanh", ["c2"], [output_name]),
        ]
    elif kind == "scaled":
        three = numpy_helper.from_array(np.array(3.0, np.float32), "three")
        one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
        inits += [three, one]
        nodes += [
            helper.make_node("Mul", [input_name, "three"], ["m"]),
            helper.make_node("Sub", ["m", "one"], [output_name]),
        ]
    else:
        raise ValueError(kind)
    if output_name != final_output:
        nodes.append(helper.make_node("Cast", [output_name], [final_output], to=dt))
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    values = dict(CONTRACT_META)
    if kind == "unet":
        values.update(
            {
                "fixative.receptive_field": "6",
                "fixative.tile_overlap": "8",
                "fixative.size_multiple": "2",
            }
        )
    values.update(meta or {})
    for key, value in values.items():
        if value is not None:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    return model.SerializeToString()


ModelFactory = Callable[..., Path]


@pytest.fixture(name="build_model")
def build_model_fixture() -> Callable[..., bytes]:
    """`build_model` itself, for tests that need the bytes (test modules import nothing)."""
    return build_model


@pytest.fixture
def contract_meta() -> dict[str, str]:
    return dict(CONTRACT_META)


@pytest.fixture
def make_model(tmp_path: Path) -> ModelFactory:
    """Write a test model to a file; `manifest=True` lists it in a manifest.json beside it."""
    counter = iter(range(1000))

    def make(name: str | None = None, *, manifest: bool = False, **kwargs: object) -> Path:
        folder = tmp_path / f"models{next(counter)}"
        folder.mkdir()
        path = folder / (name or "model.onnx")
        data = build_model(**kwargs)  # type: ignore[arg-type]
        path.write_bytes(data)
        if manifest:
            entry = {"model_id": "test", "sha256": hashlib.sha256(data).hexdigest()}
            (folder / "manifest.json").write_text(
                json.dumps({"default": path.name, "models": {path.name: entry}})
            )
        return path

    return make


@pytest.fixture
def conv_model(make_model: ModelFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shipped-style conv model, also made the default through FIXATIVE_MODEL."""
    path = make_model(manifest=True)
    monkeypatch.setenv("FIXATIVE_MODEL", str(path.parent))
    return path


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of downloaded wheels for every package build of the session: the packaging
    scripts keep each platform's and Python's download there (`--cache`), so no test fetches
    the same wheels twice."""
    return tmp_path_factory.mktemp("wheel-cache")
