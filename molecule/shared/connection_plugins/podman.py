"""Molecule's podman connection with pipelining, one nsenter per task.

Molecule's podman driver names the connection `podman`; this plugin of the same
name (found first through molecule/shared/config.yml's connection_plugins)
subclasses containers.podman's. That one runs every task as several podman
calls (mount, mkdir, copy, exec, rm) because it never passes stdin; here the
module travels on stdin like over SSH, and each command, file put and file
fetch is one nsenter into the container (molecule/shared/container_exec.py:
a few ms instead of the 140 ms of CPU a `podman exec` costs). A task as
another user (ansible_user) keeps `podman exec --user`. Test containers only.
"""

from __future__ import annotations

DOCUMENTATION = """
name: podman
short_description: containers.podman.podman with pipelining, for the test containers
description:
  - Runs each task with one nsenter into the container (the module on stdin) instead of several podman calls.
  - As another user (ansible_user), C(podman exec --user) and C(podman cp).
  - Used only by molecule scenarios (molecule/shared/config.yml).
author: anshin-ops
extends_documentation_fragment:
  - connection_pipelining
options:
  remote_addr:
    description: The container's name or ID.
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_podman_host
  remote_user:
    description: User inside the container.
    vars:
      - name: ansible_user
  podman_extra_args:
    description: Extra arguments for podman.
    default: ""
    vars:
      - name: ansible_podman_extra_args
  podman_executable:
    description: The podman executable.
    default: podman
    vars:
      - name: ansible_podman_executable
"""

import os
import shlex
import sys

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.utils.display import Display
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import container_exec  # noqa: E402  (molecule/shared/, shared with the testinfra backend)

display = Display()


class Connection(PodmanConnection):
    transport = "podman"
    has_pipelining = True

    def _connect(self):
        # no `podman mount`: files travel through nsenter (or `podman cp` for another user)
        if not self._connected:
            self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        argv = shlex.split(to_native(cmd, errors="surrogate_or_strict"))
        if self.user:
            return self._podman(["exec", "-i", "--user", self.user], argv, in_data)
        display.vvv(f"NSENTER {argv}", host=self._container_id)
        return self._nsenter(argv, in_data)

    def put_file(self, in_path, out_path):
        if self.user:
            return super().put_file(in_path, out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._container_id)
        if not os.path.exists(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleFileNotFound(f"file or module does not exist: {in_path}")
        with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as f:
            rc, _, err = self._nsenter(["/bin/sh", "-c", 'cat > "$0"', out_path], f)
        if rc != 0:
            raise AnsibleError(f"failed to put {in_path} at {out_path} in {self._container_id}: {to_native(err)}")

    def fetch_file(self, in_path, out_path):
        if self.user:
            return super().fetch_file(in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self._container_id)
        rc, out, err = self._nsenter(["cat", "--", in_path])
        if rc != 0:
            raise AnsibleError(f"failed to fetch {in_path} from {self._container_id}: {to_native(err)}")
        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as f:
            f.write(out)

    def _nsenter(self, argv, stdin=None):
        try:
            return container_exec.run(self._container_id, argv, stdin)
        except (container_exec.ContainerNotRunning, container_exec.ContainerExecError) as e:
            raise AnsibleConnectionFailure(str(e)) from e
