"""fixative.protection.model: the contract enforced at load, manifests, sha256, providers, the
cache."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fixative import ModelError
from fixative.protection import model as fm
from onnx import TensorProto

ModelFactory = Callable[..., Path]


def test_contract_model_loads_and_reports_metadata(make_model: ModelFactory) -> None:
    path = make_model(manifest=True)
    m = fm.get_model(path, "cpu", 1)
    assert m.spec.model_id == "test-conv"
    assert m.spec.epsilon == {"low": 2 / 255, "medium": 4 / 255, "high": 8 / 255}
    assert m.spec.receptive_field == 2 and m.spec.tile_overlap == 4
    assert m.spec.size_multiple == 8 and m.spec.min_size == 32
    assert m.spec.opset == 17 and m.spec.shipped
    assert m.spec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert m.provider == "CPUExecutionProvider"


def test_session_is_cached_per_file_device_threads(make_model: ModelFactory) -> None:
    path = make_model()
    a = fm.get_model(path, "cpu", 1)
    assert fm.get_model(path, "cpu", 1) is a
    assert fm.get_model(path, "cpu", 2) is not a
    assert fm.get_model(path, "auto", 1) is not a


def test_replaced_model_file_is_reloaded(make_model: ModelFactory, build_model) -> None:
    path = make_model()
    a = fm.get_model(path, "cpu", None)
    path.write_bytes(build_model(meta={"fixative.model_id": "other-model"}))
    b = fm.get_model(path, "cpu", None)
    assert b.spec.model_id == "other-model" and b is not a


@pytest.mark.parametrize(
    ("meta", "needle"),
    [
        ({"fixative.contract": "3"}, "fixative.contract"),
        ({"fixative.contract": None}, "fixative.contract"),
        ({"fixative.model_id": None}, "model_id"),
        ({"fixative.epsilon": "not json"}, "fixative.epsilon"),
        ({"fixative.epsilon": json.dumps({"low": 0.01, "medium": 0.02})}, "fixative.epsilon"),
        ({"fixative.epsilon": json.dumps({"low": 0.1, "medium": 0.05, "high": 0.2})}, "low"),
        ({"fixative.epsilon": json.dumps({"low": 0.1, "medium": 0.2, "high": 2})}, "<= 1"),
        ({"fixative.trained_epsilon": None}, "trained_epsilon"),
        ({"fixative.receptive_field": "wide"}, "receptive_field"),
        ({"fixative.tile_overlap": "1"}, "below"),
        ({"fixative.size_multiple": "0"}, "size_multiple"),
        ({"fixative.min_size": None}, "min_size"),
        ({"fixative.config_digest": "abc"}, "config_digest"),
        ({"fixative.training_data_digest": None}, "training_data_digest"),
        ({"fixative.target_encoder": "taef2"}, "target_encoder"),
    ],
)
def test_bad_metadata_is_refused(
    make_model: ModelFactory, meta: dict[str, str | None], needle: str
) -> None:
    path = make_model(meta=meta)
    with pytest.raises(ModelError, match=needle) as info:
        fm.get_model(path, "cpu", None)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"input_name": "pixels"}, "input named 'image'"),
        ({"output_name": "out"}, "output named 'delta'"),
        ({"dtype": TensorProto.DOUBLE}, "must be float32"),
        ({"opset": 13}, "opset"),
    ],
)
def test_wrong_graph_is_refused(make_model: ModelFactory, kwargs: dict, needle: str) -> None:
    path = make_model(**kwargs)
    with pytest.raises(ModelError, match=needle):
        fm.get_model(path, "cpu", None)


def test_fixed_spatial_shape_is_refused(tmp_path: Path, build_model) -> None:
    import onnx

    model = onnx.load_from_string(build_model())
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        dims[2].dim_value, dims[3].dim_value = 64, 64
    path = tmp_path / "fixed.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError, match="H and W dynamic"):
        fm.get_model(path, "cpu", None)


def test_wrong_output_shape_is_refused_at_load(tmp_path: Path, contract_meta) -> None:
    """A model that declares the right shapes but computes another is caught by the probe run."""
    import onnx
    from onnx import helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("delta", TensorProto.FLOAT, ["N", 3, "H", "W"])
    pool = helper.make_node("MaxPool", ["image"], ["delta"], kernel_shape=[2, 2], strides=[2, 2])
    model = helper.make_model(
        helper.make_graph([pool], "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    onnx.helper.set_model_props(model, contract_meta)
    path = tmp_path / "pool.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError, match="expected"):
        fm.get_model(path, "cpu", None)


def test_tampered_shipped_model_is_refused(make_model: ModelFactory) -> None:
    path = make_model(manifest=True)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF  # one flipped byte inside the weights
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="damaged or was modified"):
        fm.get_model(path, "cpu", None)
    with pytest.raises(ModelError, match="damaged or was modified"):
        fm.load_spec(path)


def test_truncated_shipped_model_is_refused(make_model: ModelFactory) -> None:
    path = make_model(manifest=True)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelError, match=r"damaged or was modified.*reinstall"):
        fm.get_model(path, "cpu", None)


def test_truncated_unlisted_model_is_refused_as_unreadable(make_model: ModelFactory) -> None:
    path = make_model()
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ModelError, match=re.escape(str(path))):
        fm.get_model(path, "cpu", None)


def test_not_a_model_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_text("hello, I am not protobuf")
    with pytest.raises(ModelError, match=r"junk\.onnx"):
        fm.load_spec(junk)
    with pytest.raises(ModelError, match="model file not found"):
        fm.get_model(tmp_path / "absent.onnx")


def test_default_model_path_env_and_manifest(
    make_model: ModelFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_model(manifest=True)
    for value in (str(path), str(path.parent), str(path.parent / "manifest.json")):
        monkeypatch.setenv("FIXATIVE_MODEL", value)
        assert fm.default_model_path() == path
    (path.parent / "manifest.json").write_text(json.dumps({"default": "x.onnx", "models": {}}))
    with pytest.raises(ModelError, match="'default' must name"):
        fm.default_model_path()


def test_default_model_path_without_any_model(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("FIXATIVE_MODEL", raising=False)
    monkeypatch.setattr(fm, "_PACKAGE_DIR", tmp_path / "pkg")
    with pytest.raises(ModelError, match="no shipped model found"):
        fm.default_model_path()


def test_provider_choice() -> None:
    avail = ["CUDAExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider"]
    assert fm.choose_providers("auto", avail) == avail
    assert fm.choose_providers("cpu", avail) == ["CPUExecutionProvider"]
    assert fm.choose_providers("gpu", ["DmlExecutionProvider", "CPUExecutionProvider"])[0] == (
        "DmlExecutionProvider"
    )
    assert fm.choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(ModelError, match="onnxruntime-gpu"):
        fm.choose_providers("gpu", ["AzureExecutionProvider", "CPUExecutionProvider"])


def test_model_run_is_float32_and_shape_preserving(make_model: ModelFactory) -> None:
    m = fm.get_model(make_model(kind="unet"), "cpu", None)
    x = np.random.default_rng(0).random((1, 3, 40, 56), dtype=np.float32)
    y = m.run(x)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.all(np.abs(y) <= 1)
