"""Settings: the default country of public holidays."""

import pytest

from config.settings import load_settings


@pytest.mark.parametrize(
    ("value", "place"),
    [("", (None, None)), ("DE", ("DE", None)), ("DE-BY", ("DE", "BY")), (" de-by ", ("DE", "BY"))],
)
def test_holidays_country_with_an_optional_subdivision(value, place):
    assert load_settings(environ={"HOLIDAYS_COUNTRY": value}, dotenv=None).holidays_place == place


@pytest.mark.parametrize(("value", "needle"), [("XX", "Country 'XX'"), ("DE-ZZ", "Subdivision 'ZZ'")])
def test_an_unsupported_holidays_country_is_refused(value, needle):
    with pytest.raises(ValueError, match=f"HOLIDAYS_COUNTRY='{value}': {needle}"):
        load_settings(environ={"HOLIDAYS_COUNTRY": value}, dotenv=None)
