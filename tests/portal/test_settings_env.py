import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_choice, env_float, env_int, env_list, env_str

NAME = "MITRA_TEST_SETTING"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("Yes", True), (" on ", True), ("0", False), ("FALSE", False), ("off", False)],
)
def test_env_bool_reads_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv(NAME, raw)
    assert env_bool(NAME, not expected) is expected


def test_env_bool_unknown_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(NAME, "maybe")
    with pytest.raises(ImproperlyConfigured, match=f"{NAME}.*'maybe'"):
        env_bool(NAME, False)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_env_helpers_fall_back_to_default_when_unset_or_blank(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv(NAME, raising=False)
    else:
        monkeypatch.setenv(NAME, raw)
    assert env_bool(NAME, True) is True
    assert env_int(NAME, 7, minimum=1) == 7
    assert env_str(NAME, "dflt") == "dflt"
    assert env_list(NAME, ["a"]) == ["a"]


def test_env_int_reads_number(monkeypatch):
    monkeypatch.setenv(NAME, " 42 ")
    assert env_int(NAME, 1, minimum=1) == 42


def test_env_int_not_a_number_names_the_variable(monkeypatch):
    monkeypatch.setenv(NAME, "abc")
    with pytest.raises(ImproperlyConfigured, match=f"{NAME} must be an integer"):
        env_int(NAME, 1)


def test_env_int_below_minimum_is_refused(monkeypatch):
    monkeypatch.setenv(NAME, "0")
    with pytest.raises(ImproperlyConfigured, match=f"{NAME} must be at least 1"):
        env_int(NAME, 5, minimum=1)


def test_env_list_splits_and_strips(monkeypatch):
    monkeypatch.setenv(NAME, " mitra.example.id , ,localhost,  [::1] ")
    assert env_list(NAME, []) == ["mitra.example.id", "localhost", "[::1]"]


def test_env_list_default_is_a_copy(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)
    default = ["localhost"]
    env_list(NAME, default).append("evil.example")
    assert default == ["localhost"]


def test_env_choice_refuses_unknown(monkeypatch):
    monkeypatch.setenv(NAME, "debug")
    with pytest.raises(ImproperlyConfigured, match=NAME):
        env_choice(NAME, "info", {"info", "warning"})


def test_env_float_reads_a_number_and_names_a_bad_value(monkeypatch):
    monkeypatch.setenv(NAME, "2.5")
    assert env_float(NAME, 1.0) == 2.5
    monkeypatch.setenv(NAME, "soon")
    with pytest.raises(ImproperlyConfigured, match=NAME):
        env_float(NAME, 1.0)
