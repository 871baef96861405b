"""The deployment files in deploy/ stay consistent with the code.

The compose file and the Kubernetes manifests cannot run on this project's machines (no Docker engine, no
cluster), so this reads them instead: every environment variable they set must be a field of the settings class
of the service that receives it, the configuration each service gets must pass that service's own validation,
deploy/env/full.env must list every setting with the default the code has, and the example apps file must parse.

PyYAML is not a dependency, so the YAML files are read by `load_yaml`, a small parser for the subset they use
(block mappings and sequences, quoted and plain scalars, JSON-style flow lists, comments, `---` documents).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from collector.apps import parse_file
from collector.routes import router
from collector.settings import CollectorSettings
from runtime.config import ServiceSettings
from stream.query_server import create_query_app
from stream.settings import StreamSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
K8S = DEPLOY / "k8s"
ENV_FILES = sorted((DEPLOY / "env").glob("*.env"))

SERVICES: dict[str, type[ServiceSettings]] = {"collector": CollectorSettings, "stream": StreamSettings}
ALL_FIELDS = set(CollectorSettings.model_fields) | set(StreamSettings.model_fields)

# Names in deploy/ that are not settings fields on purpose. The kafka and clickhouse services of the compose file
# are configured by their images' own variables and are not checked at all.
ALLOWLIST = {
    "CLICKHOUSE_PASSWORD": "compose only: interpolated into CLICKHOUSE_URL and the clickhouse image's user",
    "TOUCHSTREAM_CONFIG_DIR": "compose only: the host folder mounted at /config, holding apps.json",
    "TOUCHSTREAM_QUERY_URL": "read by the `touchstream sql` tool (touchstream/sqlclient.py), not by a service",
}

# Stand-ins for what the compose file takes from the shell, and for the example Secret's deliberately invalid
# PII_HASH_SECRET, when checking that a configuration passes validation.
VALID_PII_SECRET = "0123456789abcdef0123456789abcdef"
INTERPOLATED = {
    "PII_HASH_SECRET": VALID_PII_SECRET,
    "CLICKHOUSE_PASSWORD": "0123456789abcdef",
    "TOUCHSTREAM_CONFIG_DIR": "./config",
}


# ---- a parser for the YAML subset of deploy/ ------------------------------------------------------------------

_KEY = re.compile(r"""^(?:"([^"]*)"|'([^']*)'|([^\s"'#\[{\-][^:]*?|-[^\s:][^:]*?)):(?:\s+|$)""")


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'" and (i == 0 or line[i - 1] in " \t[,:"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text: str) -> Any:
    if text in ("|", "|-", ">", ">-"):
        raise ValueError("block scalars are not supported by this parser")
    if text.startswith(("[", "{")):
        return json.loads(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _block(lines: list[tuple[int, str]], pos: int, indent: int) -> tuple[Any, int]:
    return (_sequence if _is_item(lines[pos][1]) else _mapping)(lines, pos, indent)


def _sequence(lines: list[tuple[int, str]], pos: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while pos < len(lines) and lines[pos][0] == indent and _is_item(lines[pos][1]):
        rest = lines[pos][1][1:].lstrip()
        if not rest:
            item, pos = _block(lines, pos + 1, lines[pos + 1][0])
        elif _KEY.match(rest):
            # "- key: value": a mapping whose first key sits where `key` starts.
            child = indent + len(lines[pos][1]) - len(rest)
            lines[pos] = (child, rest)
            item, pos = _mapping(lines, pos, child)
        else:
            item, pos = _scalar(rest), pos + 1
        items.append(item)
    return items, pos


def _mapping(lines: list[tuple[int, str]], pos: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while pos < len(lines) and lines[pos][0] == indent and not _is_item(lines[pos][1]):
        match = _KEY.match(lines[pos][1])
        if not match:
            raise ValueError(f"not a `key: value` line: {lines[pos][1]!r}")
        key = next(g for g in match.groups() if g is not None)
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        rest = lines[pos][1][match.end() :].strip()
        pos += 1
        nested = pos < len(lines) and (
            lines[pos][0] > indent or (lines[pos][0] == indent and _is_item(lines[pos][1]))
        )
        if rest:
            out[key] = _scalar(rest)
        elif nested:
            out[key], pos = _block(lines, pos, lines[pos][0])
        else:
            out[key] = None
    return out, pos


def load_yaml(path: Path) -> list[Any]:
    """The documents of a YAML file, for the subset deploy/ uses; anything else raises instead of misreading."""
    documents: list[list[tuple[int, str]]] = [[]]
    for raw in path.read_text(encoding="utf-8").splitlines():
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError(f"{path}: tab indentation")
        if raw.rstrip() == "---":
            documents.append([])
            continue
        line = _strip_comment(raw).rstrip()
        if line.strip():
            documents[-1].append((len(line) - len(line.lstrip(" ")), line.strip()))
    parsed = []
    for lines in filter(None, documents):
        value, pos = _block(lines, 0, lines[0][0])
        if pos != len(lines):
            raise ValueError(f"{path}: could not parse from {lines[pos][1]!r}")
        parsed.append(value)
    return parsed


def read_env_file(path: Path) -> dict[str, str | None]:
    """KEY=value lines; a commented-out `# KEY=value` line gives KEY -> None (listed, no usable default)."""
    entries: dict[str, str | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            name = match.group(2)
            assert name not in entries, f"{path.name}: {name} listed twice"
            entries[name] = None if match.group(1) else match.group(3)
    return entries


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _interpolate(text: str) -> str:
    return re.sub(r"\$\{(\w+)(?::?[-?][^}]*)?\}", lambda m: INTERPOLATED[m.group(1)], text)


def _settings(model: type[ServiceSettings], env: dict[str, str]) -> ServiceSettings:
    return model(**{name.lower(): value for name, value in env.items()})


def _assert_fields(names: Iterable[str], model: type[ServiceSettings], where: str) -> None:
    unknown = sorted(n for n in names if n.lower() not in model.model_fields)
    assert not unknown, f"{where}: {unknown} are not settings of {model.__name__} (typo, or a removed setting?)"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings fall back to the process environment: keep the developer's shell out of these checks."""
    for name in ALL_FIELDS:
        monkeypatch.delenv(name.upper(), raising=False)


def test_the_yaml_subset_parser(tmp_path: Path) -> None:
    sample = tmp_path / "sample.yaml"
    sample.write_text(
        "# comment\n---\na: 1\nb:\n  - name: X  # trailing comment\n    value: \"8000:8000\"\n  - plain\n"
        "c:\n- \"q # not a comment\"\nd: [\"sleep\", \"5\"]\ne:\n  f:\n    g: 'h'\n---\nk: v\n",
        encoding="utf-8",
    )
    assert load_yaml(sample) == [
        {"a": "1", "b": [{"name": "X", "value": "8000:8000"}, "plain"], "c": ["q # not a comment"],
         "d": ["sleep", "5"], "e": {"f": {"g": "h"}}},
        {"k": "v"},
    ]


# ---- docker compose ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (doc,) = load_yaml(COMPOSE)
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_sets_only_settings_and_passes_validation(compose: dict[str, Any], service: str) -> None:
    spec = compose["services"][service]
    env = {name: _interpolate(str(value)) for name, value in spec["environment"].items()}
    _assert_fields(env, SERVICES[service], f"docker-compose.yml service {service}")
    settings = _settings(SERVICES[service], env)
    assert settings.touchstream_env == "production"
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert spec["command"] == [service]
    assert spec["build"] == {"context": "../..", "dockerfile": "deploy/Dockerfile"}
    assert (COMPOSE.parent / spec["build"]["context"] / spec["build"]["dockerfile"]).resolve().is_file()


def test_compose_interpolates_only_known_names(compose: dict[str, Any]) -> None:
    names = {m for s in _strings(compose) for m in re.findall(r"\$\{(\w+)", s)}
    unknown = sorted(n for n in names if n.lower() not in ALL_FIELDS and n not in ALLOWLIST)
    assert not unknown, f"docker-compose.yml interpolates {unknown}: neither a setting nor in ALLOWLIST"
    assert "${PII_HASH_SECRET:?" in compose["services"]["collector"]["environment"]["PII_HASH_SECRET"]


def test_compose_collector_wiring(compose: dict[str, Any]) -> None:
    spec = compose["services"]["collector"]
    env = spec["environment"]
    apps_dir = str(Path(env["COLLECTOR_APPS_FILE"]).parent)
    assert any(v.split(":")[-2:] == [apps_dir, "ro"] for v in spec["volumes"]), "apps folder not mounted read-only"
    assert f"{env['COLLECTOR_PORT']}:{env['COLLECTOR_PORT']}" in spec["ports"]
    assert f"127.0.0.1:{env['COLLECTOR_PORT']}/readyz" in " ".join(spec["healthcheck"]["test"])
    for service in SERVICES:
        for dependency, condition in compose["services"][service]["depends_on"].items():
            assert condition == {"condition": "service_healthy"}, (service, dependency)
            assert "healthcheck" in compose["services"][dependency]


# ---- Kubernetes -------------------------------------------------------------------------------------------------


def _k8s(name: str) -> list[dict[str, Any]]:
    return load_yaml(K8S / name)


def _by_name(docs: list[dict[str, Any]], key: str) -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: dict(d.get(key) or {}) for d in docs}


def test_k8s_configmap_and_secret_keys_are_settings() -> None:
    configmaps = _by_name(_k8s("configmap.yaml"), "data")
    secrets = _by_name(_k8s("secret.example.yaml"), "stringData")
    assert set(configmaps) == {"touchstream-common", "touchstream-collector", "touchstream-stream"}
    _assert_fields(configmaps["touchstream-common"], ServiceSettings, "configmap touchstream-common")
    _assert_fields(configmaps["touchstream-collector"], CollectorSettings, "configmap touchstream-collector")
    _assert_fields(configmaps["touchstream-stream"], StreamSettings, "configmap touchstream-stream")
    for name, data in secrets.items():
        unknown = sorted(k for k in data if k.lower() not in ALL_FIELDS)
        assert not unknown, f"secret {name}: {unknown} are not settings"


def test_k8s_example_secret_is_refused_as_is() -> None:
    (secret,) = _k8s("secret.example.yaml")
    with pytest.raises(ValidationError, match="PII_HASH_SECRET"):
        CollectorSettings(
            touchstream_env="production",
            pii_hash_secret=secret["stringData"]["PII_HASH_SECRET"],
            collector_apps_file="/config/apps.json",
        )


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_k8s_deployment_env_is_settings_and_passes_validation(service: str) -> None:
    model = SERVICES[service]
    docs = _k8s(f"{service}.yaml")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [service]
    configmaps = _by_name(_k8s("configmap.yaml"), "data")
    secrets = _by_name(_k8s("secret.example.yaml"), "stringData")
    secrets = {name: {**data, "PII_HASH_SECRET": VALID_PII_SECRET} for name, data in secrets.items()}

    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, "secrets go in one by one (secretKeyRef), not with envFrom"
        env.update(configmaps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["key"] in secrets[ref["name"]], f"{service}.yaml: secret key {ref} is not in the example"
            env[entry["name"]] = secrets[ref["name"]][ref["key"]]
    _assert_fields(env, model, f"{service}.yaml")
    settings = _settings(model, env)
    assert settings.touchstream_env == "production"

    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] == "true"
    assert security["allowPrivilegeEscalation"] == "false"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] == "true"


def test_k8s_collector_probes_ports_and_apps_volume() -> None:
    docs = _k8s("collector.yaml")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    routes = {getattr(r, "path", None) for r in router.routes}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in routes
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" in routes
    assert deployment["spec"]["replicas"] == "2"
    assert pod["terminationGracePeriodSeconds"] == "30"
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"

    collector_env = _by_name(_k8s("configmap.yaml"), "data")["touchstream-collector"]
    assert container["ports"] == [{"name": "http", "containerPort": collector_env["COLLECTOR_PORT"]}]
    (service,) = [d for d in docs if d["kind"] == "Service"]
    assert service["spec"]["ports"][0]["port"] == collector_env["COLLECTOR_PORT"]

    # The apps file lives in a ConfigMap mounted as a folder (no subPath), so edits reach the running collector.
    apps_dir = str(Path(collector_env["COLLECTOR_APPS_FILE"]).parent)
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == apps_dir]
    assert "subPath" not in mount
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert "configMap" in volume


def test_k8s_stream_probe_hits_the_query_endpoint() -> None:
    (deployment,) = [d for d in _k8s("stream.yaml") if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    defaults = StreamSettings.model_fields
    url = f"http://{defaults['stream_query_host'].default}:{defaults['stream_query_port'].default}/healthz"
    app = create_query_app(object(), 1, 1)
    assert "/healthz" in {getattr(r, "path", None) for r in app.routes}
    for probe in ("startupProbe", "livenessProbe"):
        assert url in " ".join(container[probe]["exec"]["command"])


# ---- env files, apps file, Dockerfile ---------------------------------------------------------------------------


def test_env_files_exist() -> None:
    assert [p.name for p in ENV_FILES] == ["full.env", "minimal.env"]


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_file_lists_only_settings(path: Path) -> None:
    unknown = sorted(n for n in read_env_file(path) if n.lower() not in ALL_FIELDS and n not in ALLOWLIST)
    assert not unknown, f"{path.name}: {unknown} are not settings of either service"


def test_full_env_lists_every_setting() -> None:
    listed = {name.lower() for name in read_env_file(DEPLOY / "env" / "full.env")}
    missing = sorted(name.upper() for name in ALL_FIELDS - listed)
    assert not missing, f"deploy/env/full.env does not document {missing}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_full_env_shows_the_code_defaults(service: str) -> None:
    model = SERVICES[service]
    active = {k: v for k, v in read_env_file(DEPLOY / "env" / "full.env").items() if v is not None}
    mine = {k: v for k, v in active.items() if k.lower() in model.model_fields}
    extra = {"collector_apps_file": "/config/apps.json"} if model is CollectorSettings else {}
    settings = model(**{k.lower(): v for k, v in mine.items()}, **extra)
    for name in mine:
        field = name.lower()
        assert getattr(settings, field) == model.model_fields[field].default, f"full.env {name} is not the default"


def test_minimal_env_refuses_to_start_until_filled_in() -> None:
    env = {k: v for k, v in read_env_file(DEPLOY / "env" / "minimal.env").items() if v is not None}
    assert {"TOUCHSTREAM_ENV", "PII_HASH_SECRET", "KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL"} <= set(env)
    with pytest.raises(ValidationError, match="PII_HASH_SECRET"):
        _settings(CollectorSettings, {k: v for k, v in env.items() if k.lower() in CollectorSettings.model_fields})
    filled = {**env, "PII_HASH_SECRET": VALID_PII_SECRET}
    _settings(CollectorSettings, {k: v for k, v in filled.items() if k.lower() in CollectorSettings.model_fields})
    _settings(StreamSettings, {k: v for k, v in filled.items() if k.lower() in StreamSettings.model_fields})


def test_apps_example_parses() -> None:
    path = DEPLOY / "apps.example.json"
    keys = parse_file(path.read_bytes(), str(path))
    assert {app.app_id for app in keys.values()} == {"shop", "coupons"}
    assert all("replace_me" in key for key in keys), "example write keys must be obvious placeholders"


def test_dockerfile_runs_the_touchstream_command() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    (entrypoint,) = re.findall(r"^ENTRYPOINT (.+)$", text, re.MULTILINE)
    assert json.loads(entrypoint) == ["touchstream"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert "touchstream" in scripts
    (user,) = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    for service in SERVICES:
        (deployment,) = [d for d in _k8s(f"{service}.yaml") if d["kind"] == "Deployment"]
        assert user.split(":")[0] == deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "data", "deploy/kafka/lib", ".git"} <= set(ignore)
