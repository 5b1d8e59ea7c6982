"""The linear strategy run over Mitogen (the pinned `mitogen` package of requirements.txt): one persistent
Python interpreter per host, reached through the usual connection (SSH, podman, local), instead of a new
SSH session, interpreter and module upload per task. The same plays, order and results as `linear`; the
idempotent site.yml re-run takes a third of the time (bench/site_second_run.sh). ansible.cfg selects it;
ANSIBLE_STRATEGY=linear runs without it."""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401
