"""Engine selection and the one-line error when Ray is not installed (no Ray needed here)."""

import sys

import pytest

from curator.engine import LocalEngine, RayEngine, make_engine
from curator.errors import ConfigError


def test_engine_names_and_options_are_checked():
    assert isinstance(make_engine(None), LocalEngine) and isinstance(make_engine("ray", workers=2), RayEngine)
    with pytest.raises(ConfigError, match="unknown engine"):
        make_engine("spark")
    with pytest.raises(ConfigError, match="only apply to the Ray engine"):
        make_engine("local", workers=2)
    with pytest.raises(ConfigError, match="workers"):
        RayEngine(workers=0)


def test_missing_ray_is_one_line_saying_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install 'curator\[ray\]'") as err:
        RayEngine()._ray()
    assert "\n" not in str(err.value)
