"""deploy/compose.yaml and its companions: they parse, agree with each other, name only files that
exist, pin their images, and take every secret from the environment.

`docker compose config` validates the files where a compose implementation is installed (the
plugin, or Debian's `docker-compose`); the structural checks below run everywhere.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from recross.config import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE_FILES = ("compose.yaml", "compose.gpu.yaml")
QDRANT_NODES = ("qdrant-1", "qdrant-2", "qdrant-3")
SERVICES = {*QDRANT_NODES, "postgres", "mlflow", "recross-code", "dagster-webserver",
            "dagster-daemon"}
STATEFUL = {*QDRANT_NODES, "postgres", "mlflow", "recross-code"}
SECRET_WORDS = ("PASSWORD", "API_KEY", "SECRET")
HOST_PATHS = ("/var/run/docker.sock",)  # the host's, not files of this repo
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; "$$" is a literal "$".
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}")
TEST_SECRETS = {"QDRANT_API_KEY": "test-key", "POSTGRES_PASSWORD": "test-password"}


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load("compose.yaml")


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment is written as a mapping throughout"
    return env


def _variables(text: str) -> set[str]:
    return set(INTERPOLATION.findall(text.replace("$$", "")))


def _env_example() -> dict[str, str]:
    """Variables .env.example sets or shows commented out, each with its value."""
    found = {}
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else list(command)


def test_compose_defines_the_scale_out_services(services):
    assert SERVICES <= set(services)


def test_qdrant_nodes_form_one_cluster_from_a_pinned_image(services):
    images = {services[node]["image"] for node in QDRANT_NODES}
    assert len(images) == 1
    assert re.fullmatch(r"qdrant/qdrant:v1\.\d+\.\d+", images.pop())
    for node in QDRANT_NODES:
        env = _environment(services[node])
        assert env["QDRANT__CLUSTER__ENABLED"] == "true"
        assert env["QDRANT__SERVICE__API_KEY"].startswith("${QDRANT_API_KEY:?")
        command = _command(services[node])
        assert command[command.index("--uri") + 1] == f"http://{node}:6335"
    assert "--bootstrap" not in _command(services["qdrant-1"])
    for node in QDRANT_NODES[1:]:
        command = _command(services[node])
        assert command[command.index("--bootstrap") + 1] == "http://qdrant-1:6335"
        assert services[node]["depends_on"]["qdrant-1"]["condition"] == "service_healthy"
    storage = [m.split(":")[0] for node in QDRANT_NODES for m in services[node]["volumes"]
               if m.split(":")[1] == "/qdrant/storage"]
    assert len(set(storage)) == 3, "each node needs its own storage volume"


def test_images_are_pinned_to_a_version(services):
    for name, service in services.items():
        if "build" in service:  # built here from a pinned base, checked below
            continue
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"
    assert services["postgres"]["image"] == "postgres:16"
    mlflow_base = re.search(r"ARG MLFLOW_IMAGE=(\S+)",
                            (DEPLOY / "mlflow.Dockerfile").read_text()).group(1)
    assert re.fullmatch(r"ghcr\.io/mlflow/mlflow:v3\.\d+\.\d+", mlflow_base)
    python_base = re.search(r"^FROM (\S+)", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE).group(1)
    assert python_base == "python:${PYTHON_VERSION}-slim-bookworm"


def test_mlflow_server_keeps_runs_in_postgres_and_serves_artifacts(services):
    mlflow = services["mlflow"]
    backend = _environment(mlflow)["MLFLOW_BACKEND_STORE_URI"]
    assert backend.startswith("postgresql+psycopg2://")
    assert "@postgres:5432/${MLFLOW_POSTGRES_DB" in backend
    command = _command(mlflow)
    assert command[:2] == ["mlflow", "server"] and "--serve-artifacts" in command
    assert any(c.startswith("--artifacts-destination=") for c in command)
    assert mlflow["depends_on"]["postgres"]["condition"] == "service_healthy"
    init = services["postgres"]["volumes"]
    assert any(m.endswith(":/docker-entrypoint-initdb.d/10-init-databases.sh:ro") for m in init)


def test_dagster_services_share_the_postgres_instance_and_the_code_location(services):
    wanted = set(re.findall(r"\{env: (\w+)\}", (DEPLOY / "dagster.yaml").read_text()))
    assert wanted == {"DAGSTER_POSTGRES_USER", "DAGSTER_POSTGRES_PASSWORD",
                      "DAGSTER_POSTGRES_HOST", "DAGSTER_POSTGRES_PORT", "DAGSTER_POSTGRES_DB"}
    for name in ("recross-code", "dagster-webserver", "dagster-daemon"):
        assert wanted <= set(_environment(services[name])), name
        assert services[name]["image"] == services["recross-code"]["image"]
    assert _command(services["dagster-webserver"])[0] == "dagster-webserver"
    assert _command(services["dagster-daemon"])[:2] == ["dagster-daemon", "run"]
    # The workspace points at the code server where it listens.
    [location] = _load("workspace.yaml")["load_from"]
    grpc = location["grpc_server"]
    code = _command(services[grpc["host"]])
    assert code[:3] == ["dagster", "code-server", "start"]
    assert code[code.index("-p") + 1] == str(grpc["port"])
    assert code[code.index("-m") + 1] == "recross_assets.definitions"


def test_every_service_is_health_checked_and_keeps_state_in_named_volumes(compose, services):
    declared = set(compose["volumes"])
    used = set()
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
        if name in STATEFUL:
            assert any(not m.startswith((".", "/")) for m in service["volumes"]), name
        for dependency in (service.get("depends_on") or {}).values():
            assert dependency["condition"] == "service_healthy"
    assert used == declared


def test_compose_files_reference_only_files_that_exist():
    for compose_file in COMPOSE_FILES:
        for name, service in _load(compose_file)["services"].items():
            build = service.get("build") or {}
            if "context" in build:
                context = (DEPLOY / build["context"]).resolve()
                assert context.is_dir(), f"{name}: build context {context}"
                assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
            for mount in service.get("volumes", []):
                if mount.startswith((".", "/")) and not mount.startswith(HOST_PATHS):
                    assert (DEPLOY / mount.split(":")[0]).exists(), f"{name}: {mount}"
            for env_file in service.get("env_file", []):
                assert (DEPLOY / env_file).is_file(), f"{name}: {env_file}"


def test_dockerfile_copies_only_files_that_exist_and_the_context_keeps(services):
    context = (DEPLOY / services["recross-code"]["build"]["context"]).resolve()
    dockerfile = (context / services["recross-code"]["build"]["dockerfile"]).read_text()
    kept = {line[1:].rstrip("/") for line in
            (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines() if line.startswith("!")}
    sources = []
    for line in re.findall(r"^COPY (.+?)$", dockerfile, re.MULTILINE):
        words = [w for w in line.split() if not w.startswith("--")]
        sources += words[:-1]
    assert sources, "the Dockerfile copies nothing"
    for source in sources:
        assert (context / source).exists(), source
        assert source.rstrip("/") in kept, f"{source} is excluded by Dockerfile.dockerignore"
    assert "ARG TORCH_VARIANT=cpu" in dockerfile
    assert "download.pytorch.org/whl/${TORCH_VARIANT}" in dockerfile


def test_secrets_come_only_from_the_environment(services):
    for name, service in services.items():
        for key, value in _environment(service).items():
            if any(word in key for word in SECRET_WORDS) and value is not None:
                assert str(value).startswith("${"), f"{name}: {key} is hard-coded"
    assert ":${POSTGRES_PASSWORD:?" in _environment(services["mlflow"])["MLFLOW_BACKEND_STORE_URI"]
    example = _env_example()
    assert example["QDRANT_API_KEY"] == "" and example["POSTGRES_PASSWORD"] == ""
    assert ".env" in (DEPLOY / ".gitignore").read_text().split(), "deploy/.env must stay untracked"


def test_env_example_documents_every_variable_the_files_read():
    example = _env_example()
    read = set()
    for compose_file in COMPOSE_FILES:
        read |= _variables((DEPLOY / compose_file).read_text())
        for service in _load(compose_file)["services"].values():
            read |= {k for k, v in (service.get("environment") or {}).items() if v is None}
    missing = read - set(example)
    assert not missing, f".env.example lacks {sorted(missing)}"
    assert {"QDRANT_URL", "QDRANT_API_KEY", "MLFLOW_TRACKING_URI", "POSTGRES_USER",
            "POSTGRES_PASSWORD", "DAGSTER_POSTGRES_DB", "MLFLOW_POSTGRES_DB"} <= set(example)
    # Each assignment sits under a comment (a group of related ones may share it).
    is_assignment = re.compile(r"[A-Z][A-Z0-9_]*=").match
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    for number, line in enumerate(lines):
        if is_assignment(line):
            above = next(ln for ln in reversed(lines[:number]) if not is_assignment(ln))
            assert above.startswith("#"), f"{line.split('=')[0]} has no comment"


def test_cluster_settings_shard_and_replicate_over_the_compose_nodes():
    settings = load_settings("small", config_file=DEPLOY / "recross.cluster.yaml",
                             environ={"QDRANT_URL": "http://qdrant-1:6333",
                                      "QDRANT_API_KEY": "test-key"})
    index = settings.index
    assert index.backend == "server"
    assert index.shard_number % len(QDRANT_NODES) == 0
    assert 2 <= index.replication_factor <= len(QDRANT_NODES)
    assert index.write_consistency_factor <= index.replication_factor
    assert index.on_disk_vectors and index.scalar_quantization


def _compose_command() -> list[str] | None:
    """The compose plugin when it works, else the standalone `docker-compose`, else None."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], check=False, capture_output=True, timeout=60)
        if probe.returncode == 0:
            return command
    return None


@pytest.mark.parametrize("files", [COMPOSE_FILES[:1], COMPOSE_FILES], ids=["cpu", "gpu"])
def test_docker_compose_config_accepts_the_files(files, tmp_path: Path):
    command = _compose_command()
    if command is None:
        pytest.skip("no compose implementation: neither `docker compose` (the plugin) nor "
                    "`docker-compose` (apt-get install docker-compose) is installed")
    args = [*command, "--project-directory", str(DEPLOY), "--env-file",
            str(DEPLOY / ".env.example")]
    for name in files:
        args += ["-f", str(DEPLOY / name)]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), **TEST_SECRETS}
    done = subprocess.run([*args, "config"], check=False, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert SERVICES <= set(resolved["services"])
    assert "test-password" in str(resolved["services"]["mlflow"]["environment"])
    if len(files) > 1:
        return
    # Without the secrets, compose refuses to start rather than run unprotected.
    unset = {k: v for k, v in env.items() if k not in TEST_SECRETS}
    refused = subprocess.run([*args, "config"], check=False, capture_output=True,
                             text=True, env=unset, timeout=120)
    assert refused.returncode != 0
    assert "QDRANT_API_KEY" in refused.stderr or "POSTGRES_PASSWORD" in refused.stderr
