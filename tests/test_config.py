import pytest

from curator.config import load_pipeline
from curator.errors import ConfigError
from curator.pipeline import DedupStep, GroundingStep, QualityStep, SelectStep

from .conftest import ROOT


def test_example_pipeline_maps_onto_step_classes():
    spec = load_pipeline(ROOT / "examples" / "pipeline.toml")
    assert [type(s) for s in spec.steps] == [QualityStep, GroundingStep, DedupStep, SelectStep]
    assert spec.steps[1].index == "demo" and spec.steps[3].budget == 100
    assert spec.input["path"].endswith("examples/halueval_demo/pairs.jsonl")


@pytest.mark.parametrize("body, message", [
    ('[[steps]]\ntype = "select"\nbudgett = 5\n', "unknown key 'budgett' for step 'select'"),
    ('[[steps]]\ntype = "select"\nbudget = "lots"\n', "key 'budget' of step 'select' must be"),
    ('[[steps]]\ntype = "sort"\n', "unknown step type 'sort'"),
    ('[input]\npaht = "x"\n[[steps]]\ntype = "quality"\n', "unknown key 'paht'"),
    ('[[steps]\n', "not valid TOML"),
    ('[input]\npath = "x"\n', "no [[steps]]"),
])
def test_bad_pipeline_files_name_the_key(tmp_path, body, message):
    p = tmp_path / "p.toml"
    p.write_text(body)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_pipeline(p)


def test_engine_and_ray_keys(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text('engine = "ray"\n[ray]\nworkers = 2\n[[steps]]\ntype = "quality"\n')
    spec = load_pipeline(p)
    assert spec.engine == "ray" and spec.ray == {"workers": 2}
    assert load_pipeline(ROOT / "examples" / "pipeline.toml").engine == "local"
    for body, message in [('engine = "spark"\n[[steps]]\ntype = "quality"\n', "engine must be one of local, ray"),
                          ('[ray]\nworkers = 2\n[[steps]]\ntype = "quality"\n', 'needs engine = "ray"'),
                          ('engine = "ray"\n[ray]\nnodes = 2\n[[steps]]\ntype = "quality"\n', "unknown key 'nodes'")]:
        p.write_text(body)
        with pytest.raises(ConfigError, match=message):
            load_pipeline(p)
