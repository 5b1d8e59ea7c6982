"""molecule/shared/create.yml starts each instance as the podman driver's create would, and refuses a platform
key it does not pass on (a silently dropped key would give a scenario another machine than it states).

The playbook runs for real with a `podman` in PATH that records its arguments; the expected command is what
the driver's podman_container task runs for these keys (compared with `podman inspect --format
'{{.Config.CreateCommand}}'` of a driver-made instance)."""

import json
import os

from conftest import ROOT, ansible_here

CREATE = ROOT / "molecule" / "shared" / "create.yml"
INIT = {"command": "/sbin/init", "override_command": True, "pre_build_image": True, "systemd": "always"}
VM = {
    "name": "x-debian12",
    "image": "localhost/anshin-test:bookworm",
    "capabilities": ["NET_ADMIN", "SYS_ADMIN"],
    "ulimits": ["nofile=1024:1024", "nproc=4096:4096"],
    "groups": ["lalert"],
    **INIT,
}
CLIENT = {"name": "x-client", "image": "localhost/anshin-test:trixie", "network": "x-net", **INIT}


def run_create(tmp_path, platforms):
    """Run create.yml over these platforms; (result, [argv of each podman call])."""
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "podman"
    fake.parent.mkdir()
    # podman_network asks for the version and the network first: say 4.x and "no such network"
    fake.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:2] == ['--version'] or sys.argv[1:2] == ['version']: print('podman version 4.3.1')\n"
        "if sys.argv[1:3] == ['network', 'inspect']: sys.exit(125)\n"
    )
    fake.chmod(0o755)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"molecule_yml": {"platforms": platforms}}))
    result = ansible_here(
        "ansible-playbook",
        "-i",
        "localhost,",
        "-e",
        f"@{extra}",
        CREATE,
        env={"PATH": f"{fake.parent}:{os.environ['PATH']}", "ANSIBLE_STRATEGY": "linear"},
    )
    lines = calls.read_text().splitlines() if calls.exists() else []
    return result, [json.loads(line) for line in lines]


def test_each_instance_starts_as_the_driver_would_start_it(tmp_path):
    result, calls = run_create(tmp_path, [VM, CLIENT])
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [argv for argv in calls if argv[:1] == ["run"]]
    assert runs == [
        [
            "run", "--detach", "--name", "x-debian12", "--hostname", "x-debian12", "--label", "owner=molecule",
            "--cap-add=NET_ADMIN", "--cap-add=SYS_ADMIN", "--ulimit=nofile=1024:1024", "--ulimit=nproc=4096:4096",
            "--systemd=always", "localhost/anshin-test:bookworm", "/sbin/init",
        ],
        [
            "run", "--detach", "--name", "x-client", "--hostname", "x-client", "--label", "owner=molecule",
            "--systemd=always", "--network=x-net", "localhost/anshin-test:trixie", "/sbin/init",
        ],
    ]  # fmt: skip
    # the scenario's network is made before any instance that joins it
    heads = [argv[:3] for argv in calls]
    assert ["network", "create", "x-net"] in heads
    assert heads.index(["network", "create", "x-net"]) < min(i for i, argv in enumerate(calls) if argv[:1] == ["run"])


def test_a_key_it_does_not_pass_on_stops_before_any_instance(tmp_path):
    result, calls = run_create(tmp_path, [VM, {**CLIENT, "volumes": ["/srv:/srv"]}])
    assert result.returncode != 0
    assert "x-client: volumes is not handled by molecule/shared/create.yml" in result.stdout
    assert not [argv for argv in calls if argv[:1] == ["run"]]
