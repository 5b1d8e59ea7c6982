"""Molecule's podman connection with pipelining: one `podman exec -i` per task.

Molecule's podman driver names the connection `podman`; this plugin of the same
name (found first through molecule/shared/config.yml's connection_plugins)
subclasses containers.podman's. That one runs every task as several podman
calls (mount, mkdir, copy, exec, rm) because it never passes stdin; with
`exec -i` the module travels on stdin like over SSH, and the container's file
system is mounted only when a file is really copied. Test containers only.
"""

from __future__ import annotations

DOCUMENTATION = """
name: podman
short_description: containers.podman.podman with pipelining, for the test containers
description:
  - Runs each task with one C(podman exec -i) (the module on stdin) instead of several podman calls.
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

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = "podman"
    has_pipelining = True

    def _connect(self):
        # no `podman mount` for every task: put_file and fetch_file mount when they need it
        if not self._connected:
            self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "-i"] if in_data else ["exec"]
        if self.user:
            args += ["--user", self.user]
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)

    def put_file(self, in_path, out_path):
        self._mount_once()
        return super().put_file(in_path, out_path)

    def fetch_file(self, in_path, out_path):
        self._mount_once()
        return super().fetch_file(in_path, out_path)

    def _mount_once(self):
        if self._mount_point is None and not getattr(self, "_mount_tried", False):
            self._mount_tried = True
            PodmanConnection._connect(self)
