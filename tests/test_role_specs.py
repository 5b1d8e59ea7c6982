"""Every role documents and validates its inputs: defaults/main.yml agrees
with meta/argument_specs.yml (same keys, same default values)."""
import pytest

from conftest import ROOT, load_yaml

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())


def _spec(role):
    return load_yaml(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]


def _defaults(role):
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return (load_yaml(path) or {}) if path.exists() else {}


def test_there_are_roles():
    assert ROLES


@pytest.mark.parametrize("role", ROLES)
def test_defaults_keys_equal_spec_options(role):
    options = set(_spec(role)["options"])
    defaults = set(_defaults(role))
    assert defaults - options == set(), f"{role}: defaults not in argument_specs"
    optional = {k for k, v in _spec(role)["options"].items() if not v.get("required")}
    assert optional - defaults == set(), f"{role}: optional options without a default"


@pytest.mark.parametrize("role", ROLES)
def test_defaults_agree_with_spec_defaults(role):
    options = _spec(role)["options"]
    for key, value in _defaults(role).items():
        assert options[key].get("default") == value, f"{role}: default of {key} differs"


@pytest.mark.parametrize("role", ROLES)
def test_every_option_is_prefixed_and_described(role):
    for key, opt in _spec(role)["options"].items():
        assert key.startswith(role + "_"), f"{role}: option {key} lacks the role prefix"
        assert opt.get("description"), f"{role}: option {key} has no description"
        assert opt.get("type"), f"{role}: option {key} has no type"


@pytest.mark.parametrize("role", ROLES)
def test_role_internals_are_prefixed(role):
    """vars/ may only hold internals (_role_*), never inputs."""
    for path in (ROOT / "roles" / role / "vars").glob("*.yml"):
        for key in load_yaml(path) or {}:
            assert key.startswith(f"_{role}_"), f"{path.name}: {key} is not _{role}_*"
