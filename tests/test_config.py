import dataclasses
from pathlib import Path

import pytest

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
