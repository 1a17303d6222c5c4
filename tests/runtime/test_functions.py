"""Functions on a real store: registration, validation, kinds, errors, auth."""

import pytest

from smalltown.runtime import (
    ADMIN,
    ANONYMOUS,
    ArgumentValidationError,
    ConvexError,
    FunctionError,
    FunctionNotFoundError,
    Registry,
    Runtime,
    UnauthorizedError,
    canonical_path,
    mutation,
)
from smalltown.store import open_store

from example_app.schema import schema


@pytest.fixture
async def runtime(tmp_path):
    store = await open_store(f"sqlite:///{tmp_path}/rt.db")
    rt = await Runtime.create(store, schema, Registry.from_package("example_app"))
    yield rt
    await store.close()


def test_paths_are_module_and_name():
    registry = Registry.from_package("example_app")
    assert {s.path for s in registry} >= {"messages:list", "messages:send", "values:echo"}
    assert canonical_path("messages.js:list") == "messages:list"
    assert canonical_path("dir/mod") == "dir/mod:default"


async def test_mutation_then_query(runtime):
    await runtime.mutation("messages:send", {"channel": "c", "author": "ada", "body": "hi"})
    await runtime.mutation("messages:send", {"channel": "c", "author": "bob", "body": "yo"})
    outcome = await runtime.query("messages:list", {"channel": "c"})
    assert outcome.value == [{"author": "ada", "body": "hi"}, {"author": "bob", "body": "yo"}]
    assert outcome.reads and outcome.reads[0].table == "messages"


async def test_validation_names_the_field(runtime):
    with pytest.raises(ArgumentValidationError, match="body"):
        await runtime.mutation("messages:send", {"channel": "c", "author": "a"})
    with pytest.raises(ArgumentValidationError, match="channel"):
        await runtime.query("messages:list", {"channel": 5.0})
    with pytest.raises(ArgumentValidationError, match="extra"):
        await runtime.query("messages:list", {"channel": "c", "extra": 1.0})
    with pytest.raises(ArgumentValidationError, match="whole"):
        await runtime.query(
            "values:typed",
            {"text": "t", "number": 1.0, "whole": 1.5, "flag": True, "blob": b"x"},
        )
    assert (await runtime.query("messages:count", {"channel": "c"})).value == 0.0


async def test_convex_error_carries_data_and_rolls_back(runtime):
    with pytest.raises(ConvexError) as info:
        await runtime.mutation("messages:send", {"channel": "c", "author": "a", "body": "  "})
    assert info.value.data == {"code": "empty", "message": "say something"}
    assert (await runtime.query("messages:count", {"channel": "c"})).value == 0.0


async def test_kinds_and_visibility(runtime):
    with pytest.raises(FunctionNotFoundError):
        await runtime.query("messages:nope", {})
    with pytest.raises(FunctionError, match="is a mutation"):
        await runtime.query("messages:send", {"channel": "c", "author": "a", "body": "b"})
    with pytest.raises(FunctionNotFoundError):
        await runtime.mutation("messages:wipe", {"channel": "c"})
    assert (await runtime.mutation("messages:wipe", {"channel": "c"}, ADMIN)).value == 0.0


async def test_actions_call_queries_and_mutations(runtime):
    assert await runtime.action("values:shout", {"channel": "c"}) == 1.0
    assert (await runtime.query("messages:count", {"channel": "c"})).value == 1.0


async def test_minted_tokens_identify_their_user(runtime):
    token = (await runtime.mutation("values:sign_in", {"name": "ada"})).value
    identity = runtime.auth.verify_user(token)
    assert (await runtime.query("values:whoami", {}, identity)).value == {
        "kind": "user",
        "subject": "ada",
    }
    assert (await runtime.query("values:whoami", {}, ANONYMOUS)).value["kind"] == "none"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(UnauthorizedError):
        runtime.auth.verify_user(forged)
    expired = runtime.auth.mint("ada", seconds=-10)
    with pytest.raises(UnauthorizedError, match="expired"):
        runtime.auth.verify_user(expired)


async def test_the_admin_key_survives_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path}/keys.db"
    store = await open_store(url)
    first = await Runtime.create(store, schema, Registry())
    token = first.auth.mint("ada")
    await store.close()
    store = await open_store(url)
    second = await Runtime.create(store, schema, Registry())
    assert second.auth.admin_key == first.auth.admin_key
    assert second.auth.verify_user(token).subject == "ada"
    await store.close()


def test_functions_must_be_async_and_take_ctx():
    with pytest.raises(TypeError, match="async"):

        @mutation
        def sync_one(ctx):
            return None

    with pytest.raises(TypeError, match="ctx"):

        @mutation
        async def no_ctx():
            return None
