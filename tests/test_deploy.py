"""Deployment files: the Dockerfile, compose.yaml, the image's config and the systemd unit.

No Docker engine runs where these tests run, so the image is not built: the Dockerfile is parsed
(dockerfile-parse) and checked instruction by instruction, its HEALTHCHECK command is run against a real
health endpoint on 127.0.0.1, the config the image ships passes `newsmon validate`, and compose.yaml and
deploy/newsmon.service are checked against the command line they call."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from monitor.cli import build_parser
from monitor.config import load_config
from monitor.health import HealthServer
from monitor.metrics import Metrics
from tests.conftest import ROOT, run_newsmon, system_tool

CONFIG_IN_IMAGE = "/etc/newsmon/config.yaml"
STORE_DIR = "/var/lib/newsmon"


@pytest.fixture(scope="module")
def dockerfile() -> list[dict]:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    return [i for i in parser.structure if i["instruction"] != "COMMENT"]


def instructions(dockerfile: list[dict], name: str) -> list[str]:
    return [i["value"] for i in dockerfile if i["instruction"] == name]


def exec_form(value: str) -> list[str]:
    args = json.loads(value)
    assert isinstance(args, list) and all(isinstance(a, str) for a in args), value
    return args


def test_base_image_and_install_from_the_lock(dockerfile: list[dict]) -> None:
    assert instructions(dockerfile, "FROM") == ["python:3.11-slim"]
    runs = instructions(dockerfile, "RUN")
    lock = next(r for r in runs if "-r requirements.lock" in r)
    package = next(r for r in runs if "--no-deps ." in r)
    assert runs.index(lock) < runs.index(package)
    assert (ROOT / "requirements.lock").is_file()
    copied = [v.split() for v in instructions(dockerfile, "COPY")]
    assert any("requirements.lock" in c[:-1] for c in copied)
    assert not any("requirements-test.lock" in r for r in runs)   # no pytest, Playwright, … in the image


def pins(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return dict((re.sub(r"[-_.]+", "-", n).lower(), v) for n, v in
                (line.split("==") for line in lines if line and not line.startswith("#")))


def test_the_locks_pin_what_pyproject_declares_and_keep_tests_apart() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    assert set(runtime) & set(test) == set()
    for lock, declared in ((runtime, project["dependencies"]), (test, project["optional-dependencies"]["test"])):
        for requirement in declared:
            name, version = requirement.split("==")
            assert lock.get(re.sub(r"[-_.]+", "-", name).lower()) == version, requirement


def test_every_copy_source_exists_and_is_not_docker_ignored(dockerfile: list[dict]) -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for value in instructions(dockerfile, "COPY"):
        *sources, _target = shlex.split(value)
        assert not any(s.startswith("--") for s in sources), f"COPY {value}: no --from/--chown expected"
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {value}: {source} is not in the repository"
            top = source.split("/")[0]
            assert top not in ignored and source not in ignored, f"COPY {value}: {source} is in .dockerignore"
    for needed in (".git", ".venv", "tests"):
        assert needed in ignored
    # the package installs from what is copied: pyproject's readme and packages
    assert {"pyproject.toml", "README.md", "monitor", "alerts", "spiders"} <= {
        s for v in instructions(dockerfile, "COPY") for s in shlex.split(v)[:-1]}


def test_runs_as_a_fixed_non_root_user_before_cmd(dockerfile: list[dict]) -> None:
    names = [i["instruction"] for i in dockerfile]
    users = [i for i, n in enumerate(names) if n == "USER"]
    assert users and users[-1] < names.index("CMD") and users[-1] < names.index("HEALTHCHECK")
    user = dockerfile[users[-1]]["value"].split(":")[0]
    assert user not in ("root", "0") and user.isdigit() and int(user) >= 1000
    useradd = next(r for r in instructions(dockerfile, "RUN") if "useradd" in r)
    assert f"--uid {user}" in useradd
    # nothing runs as root after USER
    assert "RUN" not in names[users[-1]:]


def test_cmd_and_stop_signal_match_the_cli(dockerfile: list[dict]) -> None:
    cmd = exec_form(instructions(dockerfile, "CMD")[-1])
    assert cmd == ["newsmon", "run", "-c", CONFIG_IN_IMAGE]
    args = build_parser().parse_args(cmd[1:])
    assert args.command == "run" and args.config == CONFIG_IN_IMAGE
    assert instructions(dockerfile, "STOPSIGNAL") == ["SIGTERM"]
    assert instructions(dockerfile, "VOLUME") == [f'["{STORE_DIR}"]']
    assert instructions(dockerfile, "EXPOSE") == ["9464"]


def healthcheck_snippet(dockerfile: list[dict]) -> str:
    (value,) = instructions(dockerfile, "HEALTHCHECK")
    m = re.fullmatch(r"((?:--[a-z-]+=\S+\s+)*)CMD\s+(\[.*\])", value.strip(), re.S)
    assert m, value
    options = dict(o.lstrip("-").split("=") for o in m.group(1).split())
    assert set(options) <= {"interval", "timeout", "start-period", "retries", "start-interval"}
    args = exec_form(m.group(2))
    assert args[:2] == ["python", "-c"] and len(args) == 3, "exec form, python (slim has no curl)"
    compile(args[2], "HEALTHCHECK", "exec")
    return args[2]


def run_healthcheck(snippet: str, port: int) -> subprocess.CompletedProcess[str]:
    env = {"NEWSMON_LISTEN": f"0.0.0.0:{port}", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=30)


def test_healthcheck_passes_against_a_healthy_endpoint_and_fails_otherwise(dockerfile: list[dict]) -> None:
    snippet = healthcheck_snippet(dockerfile)
    assert "/healthz" in snippet and "127.0.0.1" in snippet
    state = {"ok": True}
    server = HealthServer("127.0.0.1:0", Metrics(), lambda: (state["ok"], {"status": "ok" if state["ok"] else "stalled"}))
    server.start()
    try:
        port = server.server.server_address[1]
        ok = run_healthcheck(snippet, port)
        assert ok.returncode == 0, ok.stderr
        state["ok"] = False   # 503: stalled, degraded or stopping
        assert run_healthcheck(snippet, port).returncode != 0
    finally:
        server.stop()
    assert run_healthcheck(snippet, port).returncode != 0   # nothing listening


def test_the_image_config_validates_and_fits_the_image(dockerfile: list[dict], tmp_path: Path) -> None:
    copies = [shlex.split(v) for v in instructions(dockerfile, "COPY")]
    (source,) = [c[0] for c in copies if c[-1] == CONFIG_IN_IMAGE]
    path = ROOT / source
    result = run_newsmon("validate", "-c", str(path), cwd=tmp_path, env={"NEWSMON_TOKEN": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    env_in_image = DockerfileParser(path=str(ROOT / "Dockerfile")).envs
    config = load_config(path, env={"NEWSMON_LISTEN": env_in_image["NEWSMON_LISTEN"]})
    assert str(config.store_path).startswith(STORE_DIR + "/"), "the store must be in the volume"
    assert config.server.enabled and config.server.listen == "0.0.0.0:9464"
    assert config.server.token is None
    assert load_config(path, env={"NEWSMON_TOKEN": "t0ken-value"}).server.token.get_secret_value() == "t0ken-value"
    # the image polls what `make run` polls
    shipped = load_config(ROOT / "config.yaml")
    assert [s.model_dump() for s in config.sources] == [s.model_dump() for s in shipped.sources]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_runs_the_image_with_its_config_mounted(compose: dict, dockerfile: list[dict]) -> None:
    (name,) = compose["services"]
    service = compose["services"][name]
    assert service["build"] == "."
    assert service["restart"] == "unless-stopped"
    assert service["command"] == exec_form(instructions(dockerfile, "CMD")[-1])
    config_path = service["command"][service["command"].index("-c") + 1]
    mounts = {v["target"]: v for v in service["volumes"]}
    config_mount = mounts[config_path]
    assert config_mount["type"] == "bind" and config_mount["read_only"] is True
    default = re.fullmatch(r"\$\{NEWSMON_CONFIG_FILE:-(.+)\}", config_mount["source"]).group(1)
    assert (ROOT / default).is_file()
    copies = [shlex.split(v) for v in instructions(dockerfile, "COPY")]
    assert [c[0] for c in copies if c[-1] == config_path] == [default.removeprefix("./")]
    store = mounts[STORE_DIR]
    assert store["type"] == "volume" and store["source"] in compose["volumes"]
    assert service["ports"] == ["127.0.0.1:9464:9464"]
    assert service["stop_signal"] == "SIGTERM"


def test_compose_takes_secrets_from_the_environment(compose: dict) -> None:
    env = compose["services"]["newsmon"]["environment"]
    assert env["NEWSMON_TOKEN"] == "${NEWSMON_TOKEN:-}"
    assert "SLACK_WEBHOOK_URL" in env
    for key, value in env.items():
        if key != "NEWSMON_LISTEN":
            assert re.fullmatch(r"\$\{" + key + r"(:-)?\}", value), f"{key}: secrets come from the environment, not the file"
    assert env["NEWSMON_LISTEN"] == DockerfileParser(path=str(ROOT / "Dockerfile")).envs["NEWSMON_LISTEN"]


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((ROOT / "deploy" / "newsmon.service").read_text(encoding="utf-8"))
    return parser


def test_systemd_unit_matches_the_cli() -> None:
    service = unit()["Service"]
    parser = build_parser()
    commands = {key: service[key] for key in ("ExecStartPre", "ExecStart")}
    for key, line in commands.items():
        argv = shlex.split(line.lstrip("-@+!"))
        assert argv[0].endswith("/newsmon"), f"{key}: {line}"
        args = parser.parse_args(argv[1:])   # exits (fails the test) on an option the CLI does not have
        assert args.config == "/etc/newsmon/config.yaml", key
    assert parser.parse_args(shlex.split(commands["ExecStart"])[1:]).command == "run"
    assert parser.parse_args(shlex.split(commands["ExecStartPre"])[1:]).command == "validate"
    assert service["KillSignal"] == "SIGTERM"
    assert service["RestartPreventExitStatus"] == "2"   # a config error: the CLI's exit code 2
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    grace = load_config(ROOT / "config.yaml").crawl.shutdown_grace
    assert int(service["TimeoutStopSec"].removesuffix("s")) > grace
    assert service["StateDirectory"] == "newsmon" and STORE_DIR in service["ReadWritePaths"].split()
    assert service["WorkingDirectory"] == STORE_DIR


def test_systemd_unit_has_no_unknown_keys() -> None:
    result = subprocess.run([system_tool("systemd-analyze", "systemd"), "verify", str(ROOT / "deploy" / "newsmon.service")],
                            capture_output=True, text=True, timeout=60)
    bad = [line for line in (result.stdout + result.stderr).splitlines()
           if re.search(r"Unknown (key|section|lvalue)|Invalid|Failed to parse|bad-setting", line, re.I)]
    assert bad == []


def test_readme_documents_docker_and_says_ci_does_not_build_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docker = readme[readme.index("### Docker"):]
    docker = docker[:docker.index("\n## ")]
    for needed in ("docker compose up", "NEWSMON_TOKEN", "NEWSMON_CONFIG_FILE", "/etc/newsmon/config.yaml",
                   STORE_DIR, "not built by CI"):
        assert needed in docker, needed
