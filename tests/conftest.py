"""Shared pytest set-up. Fixture modules live in tests/fixtures/ and are listed here."""

pytest_plugins = [
    "tests.fixtures.knot",
    "tests.fixtures.browser",
    "tests.fixtures.moto",
]
