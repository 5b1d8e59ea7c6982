"""Settings file of the receiver (INI), read once at start-up."""

import configparser
import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Config:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    threads: int = 8
    publish_path: str = "/lalert/publish"
    max_body_bytes: int = 2 * 1024 * 1024
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    created_window_seconds: int = 300
    area_prefixes: tuple = ("36",)
    database: str = "/var/lib/lalert/receiver.sqlite3"
    spool_dir: str = "/var/spool/lalert"
    # health fails below this much free space where the database or the spool lives
    min_free_mb: int = 64
    # slow or idle clients: at most this many connections, each closed after this long idle
    connection_limit: int = 200
    channel_timeout: int = 30
    # retention: messages older than this many days are purged (0 = keep all), but never
    # what the backup has not yet taken (the backup's textfile metric says when it last succeeded)
    retention_days: int = 0
    backup_metrics_file: str = ""
    backup_metric: str = "anshin_backup_last_success_timestamp_seconds"


class ConfigError(ValueError):
    pass


def load(path):
    """Read and check the settings file; raise ConfigError naming the key."""
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path, encoding="utf-8"):
        raise ConfigError(f"cannot read settings file {path}")

    def get(section, key, default=None):
        if not parser.has_option(section, key):
            if default is None:
                raise ConfigError(f"[{section}] {key} is missing in {path}")
            return default
        return parser.get(section, key).strip()

    def number(section, key, default, low, high):
        raw = get(section, key, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"[{section}] {key} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"[{section}] {key} must be between {low} and {high}, got {value}")
        return value

    listen = get("server", "listen", "127.0.0.1:8080")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"[server] listen must be HOST:PORT, got {listen!r}")
    password = get("auth", "password", "")
    password_file = get("auth", "password_file", "")
    if password_file:
        try:
            with open(password_file, encoding="utf-8") as fh:
                password = fh.read().strip()
        except OSError as exc:
            raise ConfigError(f"[auth] password_file {password_file}: {exc.strerror}") from None
    if not password:
        raise ConfigError("[auth] needs password or password_file (a non-empty password)")
    username = get("auth", "username")
    if not username:
        raise ConfigError("[auth] username must not be empty")
    prefixes = tuple(p.strip() for p in get("filter", "area_prefixes", "36").split(",") if p.strip())
    if not prefixes or not all(p.isdigit() and len(p) <= 6 for p in prefixes):
        raise ConfigError(f"[filter] area_prefixes must be digits (JIS X 0402 prefixes), got {prefixes!r}")
    path_ = get("server", "publish_path", "/lalert/publish")
    if not path_.startswith("/"):
        raise ConfigError(f"[server] publish_path must start with /, got {path_!r}")
    database = get("storage", "database", Config.database)
    spool_dir = get("storage", "spool_dir", Config.spool_dir)
    for key, value in (("database", database), ("spool_dir", spool_dir)):
        if not os.path.isabs(value):
            raise ConfigError(f"[storage] {key} must be an absolute path, got {value!r}")
    retention_days = number("retention", "days", 0, 0, 36500)
    backup_metrics_file = get("retention", "backup_metrics_file", "")
    if backup_metrics_file and not os.path.isabs(backup_metrics_file):
        raise ConfigError(f"[retention] backup_metrics_file must be an absolute path, got {backup_metrics_file!r}")
    if retention_days and not backup_metrics_file:
        raise ConfigError("[retention] days needs backup_metrics_file: nothing is purged that the backup has not taken")
    return Config(
        listen_host=host,
        listen_port=int(port),
        threads=number("server", "threads", 8, 1, 64),
        publish_path=path_,
        max_body_bytes=number("server", "max_body_bytes", 2 * 1024 * 1024, 1024, 64 * 1024 * 1024),
        username=username,
        password=password,
        created_window_seconds=number("auth", "created_window_seconds", 300, 1, 86400),
        area_prefixes=prefixes,
        database=database,
        spool_dir=spool_dir,
        min_free_mb=number("storage", "min_free_mb", 64, 0, 1024 * 1024),
        connection_limit=number("server", "connection_limit", 200, 10, 10000),
        channel_timeout=number("server", "channel_timeout", 30, 1, 3600),
        retention_days=retention_days,
        backup_metrics_file=backup_metrics_file,
        backup_metric=get("retention", "backup_metric", Config.backup_metric),
    )
