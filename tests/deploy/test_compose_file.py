"""compose.yaml and .env.example, checked with the real Compose tool (no Docker daemon
needed to resolve a file): the invariants the deployment relies on, and that .env.example
lists exactly the settings README documents, each reaching both app processes."""

from __future__ import annotations

import re

from deployment import (
    APP_SERVICES,
    BACKGROUND_SERVICES,
    COMPOSE_FILE,
    PROXY_TEMPLATE,
    REPO,
    environment,
    postgres_init_scripts,
    proxy_templates,
    published_ports,
    resolve_compose,
    run_compose,
)

ENV_EXAMPLE = REPO / ".env.example"
README = REPO / "README.md"
#: what compose.yaml sets for its topology: where the database, Redis and the server are
TOPOLOGY = {
    "SMALLTOWN_DATABASE_URL",
    "SMALLTOWN_REDIS_URL",
    "SMALLTOWN_HOST",
    "SMALLTOWN_PORT",
    "SMALLTOWN_ROLE",
}
SETTING_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=", re.MULTILINE)
TABLE_NAME = re.compile(r"`([A-Z][A-Z0-9_]{2,})`")


def env_example() -> tuple[set[str], set[str]]:
    """The settings .env.example lists: (those it sets, those it shows commented out)."""
    text = ENV_EXAMPLE.read_text()
    live = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    return live, set(SETTING_LINE.findall(text)) - live


def readme_section(heading: str) -> str:
    """README's text under ``heading`` (a line of its own) up to the next heading of the
    same or a higher level."""
    text = README.read_text()
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    rest = text[start + len(heading) + 2 :]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, re.MULTILINE)]
    return rest[: ends[0]] if ends else rest


def table_variables(text: str) -> set[str]:
    """The variables named in the first column of ``text``'s tables of settings (those
    whose header's first cell is "variable" or "variables")."""
    names: set[str] = set()
    in_settings = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_settings = False
            continue
        first = line.split("|")[1].strip()
        if first in ("variable", "variables"):
            in_settings = True
        elif in_settings:
            names.update(TABLE_NAME.findall(first))
    return names


def compose_settings() -> set[str]:
    """The deployment's own settings, in the table under "Docker Compose"."""
    return table_variables(readme_section("### Docker Compose"))


def documented_settings() -> set[str]:
    """Every setting README documents in a table, the LLM's included, but the
    deployment's own."""
    return table_variables(README.read_text()) - compose_settings()


def test_the_compose_tool_accepts_the_file_bare_and_with_env_example(tmp_path):
    empty = tmp_path / ".env"
    empty.write_text("")
    for env_file in (empty, ENV_EXAMPLE):
        done = run_compose("config", "--quiet", env_file=env_file)
        assert done.returncode == 0, done.stderr
    assert set(resolve_compose()["services"]) == {
        "postgres",
        "redis",
        *APP_SERVICES,
        *BACKGROUND_SERVICES,
        "proxy",
    }


def test_every_service_is_health_checked_and_waits_for_what_it_needs():
    services = resolve_compose()["services"]
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        assert (
            test and test[0] in ("CMD", "CMD-SHELL") and not service["healthcheck"].get("disable")
        ), f"{name} has no health check"
        for needed, how in (service.get("depends_on") or {}).items():
            assert how == {"condition": "service_healthy"}, (name, needed, how)
    for app in APP_SERVICES + BACKGROUND_SERVICES:
        assert set(services[app]["depends_on"]) == {"postgres", "redis"}
        # The image's own health check, on /health.
        assert (
            services[app]["healthcheck"]["test"][-1] == "/opt/smalltown/bin/smalltown-healthcheck"
        )
    assert set(services["proxy"]["depends_on"]) == set(APP_SERVICES)
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def test_the_app_processes_share_one_database_and_one_redis():
    config = resolve_compose({"POSTGRES_PASSWORD": "s3cret"})
    envs = [environment(config, app) for app in APP_SERVICES + BACKGROUND_SERVICES]
    roles = [env.pop("SMALLTOWN_ROLE") for env in envs]
    assert all(env == envs[0] for env in envs), "the app processes are configured alike"
    # ... but for their roles: web behind the proxy, a runner and a worker
    assert roles == ["web"] * len(APP_SERVICES) + ["runner", "worker"]
    postgres = environment(config, "postgres")
    user, password, db = (
        postgres[k] for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")
    )
    assert password == "s3cret"
    assert envs[0]["SMALLTOWN_DATABASE_URL"] == f"postgresql://{user}:{password}@postgres:5432/{db}"
    assert envs[0]["SMALLTOWN_REDIS_URL"] == "redis://redis:6379/0"
    # Behind the proxy, rate limits count the browser's address (uvicorn trusts the header).
    assert envs[0]["FORWARDED_ALLOW_IPS"] == "*"


def test_only_the_proxy_publishes_a_port_and_it_is_the_one_nginx_listens_on():
    config = resolve_compose({"SMALLTOWN_PROXY_PORT": "8123"})
    published = {name: published_ports(s) for name, s in config["services"].items()}
    assert {name for name, ports in published.items() if ports} == {"proxy"}
    (port,) = published["proxy"]
    assert str(port["published"]) == "8123"
    assert str(port["target"]) == environment(config, "proxy")["PROXY_LISTEN"]
    assert str(published_ports(resolve_compose()["services"]["proxy"])[0]["published"]) == "8000"


def test_the_proxy_renders_the_repository_template_with_its_own_variables():
    config = resolve_compose()
    proxy = config["services"]["proxy"]
    # default.conf: it replaces the image's own server on port 80.
    assert proxy_templates(config) == {"default.conf": PROXY_TEMPLATE}
    env = environment(config, "proxy")
    template = PROXY_TEMPLATE.read_text()
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", template))
    selected = {name for name in env if re.search(env["NGINX_ENVSUBST_FILTER"], name)}
    assert used == selected, "every variable the template uses is set, and no other is replaced"
    assert sum("UPSTREAM" in name for name in used) == len(APP_SERVICES)
    # nginx's own variables are lower case, so envsubst leaves them alone.
    bare = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", template))
    assert all(name.islower() for name in bare), bare
    assert "proxy-health" in " ".join(proxy["healthcheck"]["test"])


def test_a_failing_app_is_not_restarted_for_ever_and_data_outlives_containers():
    services = resolve_compose()["services"]
    for app in APP_SERVICES + BACKGROUND_SERVICES:
        policy, _, tries = services[app]["restart"].partition(":")
        assert policy == "on-failure" and 1 <= int(tries) <= 5
    for name in ("postgres", "redis", "proxy"):
        assert services[name]["restart"] == "unless-stopped"
    assert any(
        str(v).split(":")[:2] == ["postgres-data", "/var/lib/postgresql/data"]
        for v in services["postgres"]["volumes"]
    )


def test_the_database_is_created_with_pgvector_before_the_apps_start():
    """Processes starting together on a database without pgvector race to create it, and
    one of them fails its start: the database container creates it first."""
    (script,) = postgres_init_scripts(resolve_compose())
    assert script == REPO / "deploy" / "postgres" / "create-extension.sql"
    assert "CREATE EXTENSION IF NOT EXISTS vector;" in script.read_text()


def test_images_are_official_and_pinned():
    services = resolve_compose({"POSTGRES_SHARED_BUFFERS": "3GB"})["services"]
    images = {name: s["image"] for name, s in services.items()}
    assert images["postgres"].startswith("pgvector/pgvector:")
    assert images["redis"].startswith("redis:") and images["proxy"].startswith("nginx:")
    built = APP_SERVICES + BACKGROUND_SERVICES
    pulled = {name: image for name, image in images.items() if name not in built}
    for name, image in pulled.items():
        tag = image.rsplit(":", 1)[-1]
        assert ":" in image and tag != "latest" and re.search(r"\d", tag), (name, image)
    for app in built:  # built here, from the Dockerfile, as one image
        assert services[app]["build"]["context"] == str(REPO)
        assert images[app] == images["app1"] and services[app]["pull_policy"] == "build"
    assert "shared_buffers=3GB" in services["postgres"]["command"]


def test_env_example_lists_every_documented_setting_and_nothing_else():
    live, commented = env_example()
    documented, deployment = documented_settings(), compose_settings()
    assert documented >= TOPOLOGY and {"OPENAI_API_KEY", "OLLAMA_HOST"} <= documented
    assert live | commented == documented | deployment, (
        f"missing from .env.example: {sorted((documented | deployment) - live - commented)}; "
        f"not documented in README: {sorted((live | commented) - documented - deployment)}"
    )
    assert commented == TOPOLOGY, "only what compose.yaml fixes is shown commented out"
    assert deployment == {"SMALLTOWN_PROXY_PORT", "POSTGRES_PASSWORD", "POSTGRES_SHARED_BUFFERS"}


def test_every_setting_in_env_example_reaches_every_app_process():
    live, _ = env_example()
    deployment = compose_settings()
    sentinels = {name: f"value-of-{name.lower()}" for name in live}
    sentinels |= {"POSTGRES_PASSWORD": "pw1", "SMALLTOWN_PROXY_PORT": "8765"}
    sentinels |= {"POSTGRES_SHARED_BUFFERS": "2GB"}
    sentinels |= {name: f"ignored-{name.lower()}" for name in TOPOLOGY}
    config = resolve_compose(sentinels)
    default = resolve_compose()
    same_password = resolve_compose({"POSTGRES_PASSWORD": "pw1"})
    for app in APP_SERVICES + BACKGROUND_SERVICES:
        env = environment(config, app)
        for name in live - deployment:
            assert env[name] == sentinels[name], f"{name} from .env does not reach {app}"
        for name in TOPOLOGY:  # fixed by the topology, whatever .env says
            assert env[name] == environment(same_password, app)[name]
        assert ":pw1@postgres:" in env["SMALLTOWN_DATABASE_URL"]
    assert "shared_buffers=2GB" in config["services"]["postgres"]["command"]
    assert str(published_ports(config["services"]["proxy"])[0]["published"]) == "8765"
    # With nothing set, every setting is empty (the default), but the app to serve.
    for name in live - deployment:
        expected = "smalltown.town" if name == "SMALLTOWN_APP" else ""
        assert environment(default, "app1")[name] == expected, name


def test_readme_default_for_the_app_is_what_compose_falls_back_to():
    row = next(
        line for line in README.read_text().splitlines() if line.startswith("| `SMALLTOWN_APP`")
    )
    assert "`smalltown.town`" in row.split("|")[2]
    assert "${SMALLTOWN_APP:-smalltown.town}" in COMPOSE_FILE.read_text()


def test_readme_commands_for_compose_name_its_services_user_and_database():
    """README's `docker compose ...` lines cannot be run here (no daemon): they are held to
    compose.yaml instead, so a renamed service, user or database shows."""
    config = resolve_compose()
    postgres = environment(config, "postgres")
    lines = [
        line.strip()
        for line in README.read_text().splitlines()
        if line.strip().startswith("docker compose ") or "`docker compose " in line
    ]
    commands = [
        c for line in lines for c in re.findall(r"docker compose [^`\n]*", line) if " " in c
    ]
    assert len(commands) >= 8, commands
    for command in commands:
        command = re.split(r"\s(?:\||&&|;|#)\s", command)[0].strip()
        words = command.split()
        if words[2] == "exec":
            service = words[4] if words[3] == "-T" else words[3]
            assert service in config["services"], command
            if service != "postgres":
                continue
            assert f"-U {postgres['POSTGRES_USER']}" in command, command
            named = re.findall(r"(?:--dbname=|\s)(\w+)(?:\s*[<>]|$)", command)
            assert not named or named[-1] == postgres["POSTGRES_DB"], command
        elif words[2] in ("stop", "start", "restart", "logs"):
            assert set(words[3:]) <= set(config["services"]), command
