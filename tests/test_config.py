"""jaxdis.config's helpers for experiments' configs: a dataclass built from a config by field name,
range checks that name the field, presets, and field docs read along the base classes."""

import dataclasses

import pytest

from jaxdis.config import apply_preset, check_fields, field_docs, from_fields


@dataclasses.dataclass(frozen=True)
class Schedule:
    epochs: int = 5
    rate: float = 0.1


@dataclasses.dataclass(frozen=True)
class Base:
    """A base config.

    Attributes:
      dataset: which data.
      size: how much of it.
    """

    dataset: str = "a"
    size: int = 10


@dataclasses.dataclass(frozen=True)
class Config(Base):
    """A config that extends Base.

    Attributes:
      size: how much of it, overridden here.
      epochs: passes over the data.
      rate: a learning rate.
      preset: "full" or "small".
    """

    epochs: int = 5
    rate: float = 0.1
    preset: str = "full"


def make_config(dataset):
    return Config(dataset=dataset or "a")


def test_from_fields_copies_each_field_by_name_and_takes_given_ones():
    config = Config(epochs=7, rate=0.5)
    assert from_fields(Schedule, config) == Schedule(epochs=7, rate=0.5)
    assert from_fields(Schedule, config, rate=0.25) == Schedule(epochs=7, rate=0.25)
    with pytest.raises(ValueError, match=r"source: Base has no field epochs, rate that Schedule"):
        from_fields(Schedule, Base())
    assert from_fields(Schedule, Base(), epochs=1, rate=1.0) == Schedule(1, 1.0)
    with pytest.raises(ValueError, match=r"given: width is not a field of Schedule"):
        from_fields(Schedule, config, width=3)


def test_check_fields_names_the_first_field_out_of_range():
    config = Config(epochs=-1, rate=float("nan"))
    check_fields(config, ("size",), lambda v: v >= 1, "an int >= 1")
    with pytest.raises(ValueError, match=r"^epochs: expected an int >= 0, got -1$"):
        check_fields(config, ("size", "epochs"), lambda v: v >= 0, "an int >= 0")
    with pytest.raises(ValueError, match=r"^rate: expected > 0, got nan$"):
        check_fields(config, ("rate",), lambda v: v > 0, "> 0")


def test_a_preset_sets_its_fields_and_refuses_a_clash():
    presets = {"full": {}, "small": {"size": 2, "epochs": 1}}
    assert apply_preset(Config(size=3), presets, make_config) == Config(size=3)
    small = apply_preset(Config(preset="small"), presets, make_config)
    assert (small.size, small.epochs, small.preset) == (2, 1, "small")
    assert apply_preset(small, presets, make_config) == small  # resolves to itself
    with pytest.raises(ValueError, match=r"^preset=small sets size; drop those --set options"):
        apply_preset(Config(preset="small", size=3), presets, make_config)
    with pytest.raises(ValueError, match=r"^preset: expected 'full' or 'small', got 'tiny'$"):
        apply_preset(Config(preset="tiny"), presets, make_config)


def test_field_docs_read_the_base_classes_and_let_a_subclass_override():
    assert field_docs(Config) == {"dataset": "which data.",
                                  "size": "how much of it, overridden here.",
                                  "epochs": "passes over the data.", "rate": "a learning rate.",
                                  "preset": '"full" or "small".'}
    assert field_docs(Base) == {"dataset": "which data.", "size": "how much of it."}
