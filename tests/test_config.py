import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from emergence_jax.app import cli
from emergence_jax.core.config import (apply_overrides, ConfigError, CountConfig,
                                       ExperimentConfig, from_dict, load_experiment, parse_value,
                                       to_dict, validate)

COUNT_EXPERIMENT = str(Path(__file__).parents[1] / "experiments" / "count.py")


def test_defaults_validate():
    cfg = validate(ExperimentConfig())
    assert cfg.task.name == "count"


@pytest.mark.parametrize("override, message", [
    ("model.widht=3", "model.widht: model has no field 'widht'; allowed fields: depth, width"),
    ("modle.width=3", "the config has no field 'modle'"),
    ("model.pos_encoding=abs", "model.pos_encoding: got 'abs'; allowed values: 'learned', 'rope', 'none'"),
    ("model.width=-4", "model.width: got -4; allowed: a number in [1, inf]"),
    ("model.width=30", "model.width: got 30, which is not divisible by model.heads=4"),
    ("model.width=true", "model.width: expected an integer"),
    ("optimizer.learning_rate=0", "optimizer.learning_rate: got 0.0; allowed: a number in (0, inf]"),
    ("optimizer.learning_rate=nan", "optimizer.learning_rate: expected a number"),
    ("train.eval_every=7", "train.eval_every: got 7, which does not divide train.steps=1000"),
    ("population.vary=seed", "population.vary: got 'seed'; allowed values: 'both', 'init', 'data'"),
    ("task.name=nope", "task.name: got 'nope'; allowed values: "),
    ("task.eval_max_span=4", "task.train_max_span: need min_span <= train_max_span < eval_max_span"),
    ("sweep.axes={'model.wdth': [1, 2]}", "sweep.axes: model.wdth: model has no field 'wdth'"),
    ("model.width", "expected the form field.name=value"),
    ("analysis.loss_metric=loss", "analysis.loss_metric: got 'loss'; allowed: '' (no loss-axis "
                                  "analysis) or a metric name <set>/<name>"),
])
def test_bad_overrides_name_the_field(override, message):
    with pytest.raises(ConfigError) as info:
        apply_overrides(ExperimentConfig(), [override])
    assert message in str(info.value)


def test_overrides_apply_in_order_and_coerce():
    cfg = apply_overrides(ExperimentConfig(), ["model.width=128", "optimizer.learning_rate=1",
                                               "model.width=96", "model.dtype=bfloat16",
                                               "sweep.axes={'model.depth': [1, 2]}"])
    assert cfg.model.width == 96 and cfg.model.dtype == "bfloat16"
    assert cfg.optimizer.learning_rate == 1.0 and isinstance(cfg.optimizer.learning_rate, float)
    assert cfg.sweep.axes == {"model.depth": (1, 2)}


def test_parse_value():
    assert parse_value("3") == 3 and parse_value("3e-4") == 3e-4
    assert parse_value("true") is True and parse_value("rope") == "rope"
    assert parse_value("[1, 2]") == [1, 2]


def test_round_trip_through_dict():
    cfg = apply_overrides(ExperimentConfig(), ["model.width=48", "model.heads=6",
                                               "sweep.axes={'model.width': [48, 96]}"])
    assert from_dict(to_dict(cfg)) == cfg


def test_from_dict_rejects_unknown_fields():
    data = to_dict(ExperimentConfig())
    data["model"]["colour"] = "red"
    with pytest.raises(ConfigError, match="model.colour: unknown field"):
        from_dict(data)


def test_task_config_class_must_match_name():
    cfg = dataclasses.replace(ExperimentConfig(), task=dataclasses.replace(CountConfig(), name="x"))
    with pytest.raises(ConfigError, match="task.name: got 'x'"):
        validate(cfg)


def test_load_experiment_file(tmp_path):
    path = tmp_path / "exp.py"
    path.write_text("from emergence_jax.core.config import ExperimentConfig\n"
                    "def get_config():\n    return ExperimentConfig(name='mine')\n")
    cfg = load_experiment(path, ["model.depth=3"])
    assert cfg.name == "mine" and cfg.model.depth == 3
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="defines no get_config"):
        load_experiment(tmp_path / "empty.py")
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment(tmp_path / "missing.py")


def test_load_experiment_presets(tmp_path):
    path = tmp_path / "exp.py"
    path.write_text("from emergence_jax.core.config import ExperimentConfig, ModelConfig\n"
                    "PRESETS = ('cpu', 'paper')\n"
                    "def get_config(preset='cpu'):\n"
                    "    width = {'cpu': 16, 'paper': 256}[preset]\n"
                    "    return ExperimentConfig(name=f'exp_{preset}', model=ModelConfig(width=width))\n")
    assert load_experiment(path).model.width == 16
    cfg = load_experiment(f"{path}:paper", ["model.depth=3"])
    assert (cfg.name, cfg.model.width, cfg.model.depth) == ("exp_paper", 256, 3)
    with pytest.raises(ConfigError, match="unknown preset 'gpu'; allowed: 'cpu', 'paper'"):
        load_experiment(f"{path}:gpu")
    plain = tmp_path / "plain.py"
    plain.write_text("from emergence_jax.core.config import ExperimentConfig\n"
                     "def get_config():\n    return ExperimentConfig()\n")
    with pytest.raises(ConfigError, match="this file has no presets"):
        load_experiment(f"{plain}:paper")
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment(f"{tmp_path / 'missing.py'}:paper")


def test_scale_variable_may_be_a_swept_field():
    cfg = apply_overrides(ExperimentConfig(), ["sweep.axes={'model.width': (8, 16)}",
                                               "sweep.scale_variable=model.width",
                                               "analysis.scale_variable=model.width"])
    assert cfg.sweep.scale_variable == "model.width"
    with pytest.raises(ConfigError, match="sweep.scale_variable: 'model.depth' is not swept"):
        apply_overrides(cfg, ["sweep.scale_variable=model.depth"])
    with pytest.raises(ConfigError, match="analysis.scale_variable: 'model.depth' is not swept"):
        apply_overrides(cfg, ["analysis.scale_variable=model.depth"])
    with pytest.raises(ConfigError, match="analysis.scale_variable: got 'size'; allowed: '', "
                                          "'params'"):
        apply_overrides(cfg, ["analysis.scale_variable=size"])
    assert apply_overrides(cfg, ["analysis.model=emergence-time"]).analysis.model == \
        "emergence-time"


def test_cli_reports_config_errors_without_traceback(capsys):
    code = cli.main(["train", COUNT_EXPERIMENT, "--set", "model.depth=0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "model.depth: got 0; allowed: a number in [1, inf]" in err
    assert "Traceback" not in err


def test_cli_config_prints_resolved_json(capsys):
    assert cli.main(["config", COUNT_EXPERIMENT, "--set", "model.width=64"]) == 0
    out = capsys.readouterr().out
    assert '"width": 64' in out


def test_section_overrides():
    cfg = apply_overrides(ExperimentConfig(), ["model={'width': 128, 'heads': 8}"])
    assert cfg.model.width == 128 and cfg.model.heads == 8 and cfg.model.depth == 2  # kept
    cfg = apply_overrides(ExperimentConfig(), ["task={'name': 'addition', 'eval_seed': 7}"])
    assert cfg.task.name == "addition" and cfg.task.eval_seed == 7
    for override, message in [
        ("model=5", "model: expected a ModelConfig section (in --set, a dict of its fields: "
                    "depth, width"),
        ("model=[64]", "model: expected a ModelConfig section"),
        ("optimizer=none", "optimizer: expected a OptimizerConfig section"),
        ("model={'width': 'wide'}", "model.width: expected an integer, got 'wide'"),
        ("task={'name': 'nope'}", "task.name: got 'nope'; allowed values:"),
    ]:
        with pytest.raises(ConfigError) as info:
            apply_overrides(ExperimentConfig(), [override])
        assert message in str(info.value), (override, str(info.value))


@pytest.mark.parametrize("name", ["../../elsewhere", "/abs", "~/x", "a/../b", "a//b", "", ".",
                                  "a\\b", "x:y"])
def test_names_that_leave_runs_are_refused(name):
    with pytest.raises(ConfigError, match="name: got"):
        apply_overrides(ExperimentConfig(), [f"name={name}"])


def test_names_inside_runs_are_fine():
    for name in ("count", "width sweep", "group/v2", "a.b-c_d"):
        assert apply_overrides(ExperimentConfig(), [f"name={name}"]).name == name


def test_experiment_file_errors_name_file_and_line(tmp_path):
    cases = {
        "def get_config(:\n    pass\n": "line 1: syntax error",
        "x = 1\nraise RuntimeError('broken setup')\n": "line 2: importing it raised RuntimeError: "
                                                       "broken setup",
        "def get_config():\n    return 1 / 0\n": "line 2: get_config() raised ZeroDivisionError",
        "get_config = 'count'\n": "get_config is a str, not a function",
        "def get_config():\n    return None\n": "get_config() returned NoneType None",
        "def get_config(size):\n    pass\n": "get_config() raised TypeError",
    }
    for i, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"exp{i}.py"
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_experiment(path)
        assert message in str(info.value) and f"exp{i}.py" in str(info.value), str(info.value)


# ------------------------------------------------------------------------------------------
# Fuzz: arbitrary JSON-like configs and override strings give a valid config or ConfigError.

_FIELDS = sorted({f"{section}.{name}" for section, fields in to_dict(ExperimentConfig()).items()
                  if isinstance(fields, dict) for name in fields} | {
    "model", "task", "train", "population", "sweep", "analysis", "optimizer", "name"})
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                     st.sampled_from(["count", "addition", "rope", "nuts", "product"]))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from([f.split(".")[-1] for f in _FIELDS]),
                              st.text(max_size=5)), inner, max_size=4)), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["model", "task", "optimizer", "train", "population",
                                        "sweep", "analysis", "name", "other"]), _JSON,
                       max_size=5))
def test_fuzz_from_dict(data):
    try:
        cfg = from_dict(data)
    except ConfigError:
        return
    assert validate(cfg) == cfg


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.sampled_from(_FIELDS), st.text(max_size=10)),
                          st.one_of(_JSON.map(repr), st.text(max_size=12))), max_size=3))
def test_fuzz_overrides(pairs):
    try:
        cfg = apply_overrides(ExperimentConfig(), [f"{k}={v}" for k, v in pairs])
    except ConfigError:
        return
    assert validate(cfg) == cfg
