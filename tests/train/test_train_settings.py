"""Typed configs: dict round trips, --set overrides and their errors, config files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import pytest

from quotient.errors import ConfigError
from quotient.train import (
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_keys,
    config_to_dict,
    load_config_file,
)


@dataclass
class Cfg:
    train: TrainConfig = field(default_factory=TrainConfig)
    width: int = 4
    scale: float = 1.0
    name: str = "a"
    kind: Literal["x", "y"] = "x"
    limit: int | None = None
    sizes: tuple[int, ...] = (1, 2)


def test_keys_and_roundtrip():
    keys = config_keys(Cfg)
    assert "train.epochs" in keys and "width" in keys and "train" not in keys
    cfg = Cfg(width=7, train=TrainConfig(epochs=3))
    assert config_from_dict(Cfg, config_to_dict(cfg)) == cfg


def test_overrides_are_typed():
    cfg = apply_overrides(Cfg(), [
        "train.epochs=2", "train.lr=1e-4", "train.progress=false", "train.grad_clip=1",
        "width=9", "scale=3", "name=b=c", "kind=y", "limit=5", "sizes=3,4,5"])
    assert cfg.train.epochs == 2 and cfg.train.lr == 1e-4 and cfg.train.progress is False
    assert cfg.train.grad_clip == 1.0 and isinstance(cfg.train.grad_clip, float)
    assert (cfg.width, cfg.scale, cfg.name, cfg.kind, cfg.limit) == (9, 3.0, "b=c", "y", 5)
    assert cfg.sizes == (3, 4, 5)
    assert apply_overrides(cfg, ["limit=none", "sizes=[7]"]).limit is None
    assert Cfg().width == 4, "the original is not changed"


@pytest.mark.parametrize(("assignment", "message"), [
    ("train.epoch=2", r"unknown setting 'train.epoch' \(did you mean train.epochs\?\); valid "
                      r"keys: train.epochs, "),
    ("depth=3", "unknown setting 'depth'.*valid keys:.*width"),
    ("width.x=3", "unknown setting 'width.x'"),
    ("train=3", "train is a group of settings; set one of: train.epochs"),
    ("train.epochs=abc", "bad value for train.epochs: abc is not an integer"),
    ("train.epochs=2.5", "bad value for train.epochs: 2.5 is not an integer"),
    ("train.progress=maybe", "bad value for train.progress: maybe is not true or false"),
    ("kind=z", "bad value for kind: z is not one of 'x', 'y'"),
    ("limit=many", "bad value for limit: many is not an integer or none"),
    ("train.epochs=0", "train.epochs must be at least 1"),
    ("train.device=tpu", "train.device must be"),
    ("width", "--set expects key=value"),
])
def test_override_errors(assignment, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Cfg(), [assignment])


def test_from_dict_errors():
    with pytest.raises(ConfigError, match="unknown setting 'train.nope'"):
        config_from_dict(Cfg, {"train": {"nope": 1}})
    with pytest.raises(ConfigError, match='bad value for width: "4" is not an integer'):
        config_from_dict(Cfg, {"width": "4"})
    with pytest.raises(ConfigError, match="bad value for train.progress"):
        config_from_dict(Cfg, {"train": {"progress": 1}})
    assert config_from_dict(Cfg, {"scale": 2}).scale == 2.0


def test_config_files(tmp_path):
    good = tmp_path / "c.json"
    good.write_text(json.dumps({"width": 5, "train": {"epochs": 2}}))
    assert load_config_file(good) == {"width": 5, "train": {"epochs": 2}}
    saved = tmp_path / "config.json"
    saved.write_text(json.dumps({"experiment": "e", "config": {"width": 5}}))
    assert load_config_file(saved) == {"width": 5, "__experiment__": "e"}
    bad = tmp_path / "bad.json"
    bad.write_text('{"width": 5,')
    with pytest.raises(ConfigError, match="bad.json is not valid JSON"):
        load_config_file(bad)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config_file(listing)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="must end in .json, .yaml or .yml"):
        load_config_file(tmp_path / "c.toml")


def test_yaml_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("width: 5\ntrain:\n  epochs: 2\n")
    try:
        import yaml  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="needs PyYAML"):
            load_config_file(path)
    else:
        assert load_config_file(path) == {"width": 5, "train": {"epochs": 2}}


def test_saved_config_restores_a_run_and_moves_it_to_cpu(tmp_path):
    from quotient.experiments.rotated_mnist import RotatedMNISTConfig
    from quotient.train import RunDir, saved_config

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({
        "experiment": "rotated-mnist", "kind": "train",
        "config": {"latent_dim": 7, "train": {"device": "cuda:1", "epochs": 3}}}))
    run_dir = RunDir.open(tmp_path / "run")
    cfg = saved_config(run_dir, RotatedMNISTConfig)
    assert cfg.latent_dim == 7 and cfg.train.epochs == 3 and cfg.train.device == "cpu"
    assert saved_config(run_dir, RotatedMNISTConfig, device=None).train.device == "cuda:1"


def test_check_ranges_names_the_setting_and_the_range():
    from quotient.train import check_ranges

    @dataclass
    class Ranges:
        width: int = 3
        widths: tuple[int, ...] = (2, 3)
        share: float = 0.5

    check_ranges(Ranges(), positive=("width", "widths"), fraction=("share",))
    with pytest.raises(ConfigError, match=r"^width must be > 0, got 0$"):
        check_ranges(Ranges(width=0), positive=("width",))
    with pytest.raises(ConfigError, match=r"every entry of widths must be > 0, got \(2, -1\)"):
        check_ranges(Ranges(widths=(2, -1)), positive=("widths",))
    with pytest.raises(ConfigError, match="non-empty"):
        check_ranges(Ranges(widths=()), positive=("widths",))
    with pytest.raises(ConfigError, match=r"share must be in \(0, 1\], got 0.0"):
        check_ranges(Ranges(share=0.0), fraction=("share",))
