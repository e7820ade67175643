"""The deployment files (deploy/): what can be checked without a container engine or a cluster, and
Dagster's run and event storage in a real PostgreSQL server with the deployment's instance settings."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.deploy.postgres import running_server, server_binaries

DEPLOY = REPO_ROOT / "deploy"


def module_file(module: str) -> Path:
    return (REPO_ROOT / Path(*module.split("."))).with_suffix(".py")


def test_every_file_the_dockerfile_copies_exists_and_it_runs_as_a_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (?!--from)(?:--\S+ )*(.+) \S+$", dockerfile, re.MULTILINE)
    sources = [source for line in copies for source in line.split()]
    assert sources and all((REPO_ROOT / source).exists() for source in sources), sources
    stages = re.findall(r"^FROM .* AS (\w+)$", dockerfile, re.MULTILINE)
    assert stages == ["build", "runtime"]  # multi-stage: the runtime image has no build tools
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert re.search(r"^USER warehouse$", runtime, re.MULTILINE)
    assert "-r /tmp/requirements.lock" in dockerfile
    module = re.search(r'"--module-name", "([\w.]+)"', dockerfile).group(1)
    assert module_file(module).is_file()


def test_the_compose_file_names_only_what_exists() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "user_code", "webserver", "daemon"}
    build = services["user_code"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == REPO_ROOT and (context / build["dockerfile"]).is_file()
    for name in ("webserver", "daemon"):
        command = services[name]["command"]
        workspace = command[command.index("--workspace") + 1]
        assert (REPO_ROOT / workspace).is_file(), workspace
        assert services[name]["image"] == services["user_code"]["image"]
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["host"] in services


def test_the_helm_values_name_the_image_the_module_and_the_kubernetes_launcher() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    assert module_file(args[args.index("--module-name") + 1]).is_file()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    coordinator = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert coordinator["maxConcurrentRuns"] == 1  # one DuckDB writer
    assert values["postgresql"]["enabled"] is False


def test_the_deployment_instance_settings_are_valid_dagster_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    for name in ("HOST", "PORT", "USER", "PASSWORD", "DB"):
        monkeypatch.setenv(f"DAGSTER_PG_{name}", "5432" if name == "PORT" else "x")
    config, _ = dagster_instance_config(str(DEPLOY))
    assert "postgres_db" in config["storage"]["postgres"]
    assert config["run_coordinator"]["config"]["max_concurrent_runs"] == 1


@pytest.mark.postgres
def test_runs_and_events_are_stored_in_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    binaries = server_binaries()
    assert binaries is not None, "PostgreSQL's server is not installed (Debian: apt-get install postgresql)"
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")

    @dg.asset
    def landing_days() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"days": 3})

    @dg.asset_check(asset=landing_days)
    def has_days() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    job = dg.Definitions(assets=[landing_days], asset_checks=[has_days]).get_implicit_global_asset_job_def()
    with running_server(binaries) as server:
        for name, value in {**server.environ(), "DAGSTER_HOME": str(home)}.items():
            monkeypatch.setenv(name, value)
        with dg.DagsterInstance.get() as instance:
            assert isinstance(instance.run_storage, PostgresRunStorage)
            assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
            result = job.execute_in_process(instance=instance)
            assert result.success
        # a second instance (another process: the webserver, the daemon) reads the same history
        with dg.DagsterInstance.get() as reader:
            (run,) = reader.get_runs()
            assert run.run_id == result.run_id and run.is_success
            materialization = reader.get_latest_materialization_event(dg.AssetKey("landing_days"))
            assert materialization.asset_materialization.metadata["days"].value == 3
            check = reader.event_log_storage.get_latest_asset_check_execution_by_key(
                [dg.AssetCheckKey(dg.AssetKey("landing_days"), "has_days")]
            )
            assert check
