"""Database URLs: a password never shows, and each provider reads the part it needs."""

import pytest

from smalltown.store import mask_password
from smalltown.store.urls import (
    database_name,
    is_database_url,
    option_names,
    postgres_conninfo,
    scheme,
    sqlite_path,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bob:secret@db:5432/town", "postgresql://bob:***@db:5432/town"),
        ("mongodb://u:p@h:27017/x?replicaSet=rs0", "mongodb://u:***@h:27017/x?replicaSet=rs0"),
        ("postgresql://bob@db/town", "postgresql://bob@db/town"),
        ("sqlite:///./data/town.db", "sqlite:///./data/town.db"),
        ("postgresql://[::1", "<unparseable URL>"),
    ],
)
def test_a_password_is_masked_and_nothing_else_changes(url, shown):
    assert mask_password(url) == shown


def test_the_scheme_picks_the_provider_whatever_its_case():
    assert scheme("PostgreSQL://db/town") == "postgresql"
    assert is_database_url("sqlite:///x.db")
    assert not is_database_url("x.db") and not is_database_url(None)


def test_each_provider_reads_its_part_of_the_url():
    assert sqlite_path("sqlite:///./data/town.db") == "./data/town.db"
    assert sqlite_path("sqlite:////var/lib/town.db") == "/var/lib/town.db"
    assert sqlite_path("sqlite://") == ""
    assert postgres_conninfo("postgres://bob@db/town") == "postgresql://bob@db/town"
    assert database_name("mongodb://h:27017/town?replicaSet=rs0") == "town"
    assert database_name("mongodb://h:27017") == ""
    assert option_names("mongodb://h/x?replicaSet=rs0&connectTimeoutMS=5") == {
        "replicaset",
        "connecttimeoutms",
    }
