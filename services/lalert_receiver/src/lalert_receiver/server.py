"""`lalert-receiver`: serve the receiver with waitress, check a settings file, purge, or say
whether a disaster is in progress (the maintenance run's gate)."""

import argparse
import json
import logging
import logging.handlers
import queue
import sys

from . import __version__, config as config_mod


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lalert-receiver", description=__doc__)
    parser.add_argument("--config", default="/etc/lalert-receiver/receiver.ini", help="settings file")
    parser.add_argument("--check-config", action="store_true", help="check the settings file and exit (0 when good)")
    parser.add_argument(
        "--purge", action="store_true", help="remove messages past [retention] days that the backup has taken, and exit"
    )
    parser.add_argument(
        "--disaster-check",
        action="store_true",
        help="print the real messages of --kinds received in the last --hours as JSON, and exit "
        "(0: read, whatever the count; 3: the database cannot be read)",
    )
    parser.add_argument(
        "--kinds",
        default="weather,tsunami,evacuation,landslide",
        help="--disaster-check: message kinds, comma-separated",
    )
    parser.add_argument("--hours", type=float, default=6, help="--disaster-check: how far back")
    parser.add_argument("--version", action="version", version=__version__)
    args = parser.parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        print(f"lalert-receiver: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print(f"{args.config}: ok")
        return 0

    if args.disaster_check:
        from . import disaster

        kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
        try:
            found = disaster.disaster_messages(cfg.database, kinds, args.hours)
        except (disaster.Unreadable, ValueError) as exc:
            print(f"lalert-receiver: disaster state unreadable: {exc}", file=sys.stderr)
            return 3
        print(
            json.dumps(
                {
                    "database": cfg.database,
                    "kinds": kinds,
                    "hours": args.hours,
                    "disaster_messages": sum(found.values()),
                    "by_kind": found,
                }
            )
        )
        return 0

    if args.purge:
        from . import retention

        try:
            deleted = retention.purge(cfg)
        except retention.RetentionError as exc:
            print(f"lalert-receiver: purge refused: {exc}", file=sys.stderr)
            return 1
        print(json.dumps({"retention_days": cfg.retention_days, "deleted": deleted}))
        return 0

    # request threads hand log records to a queue; one thread writes them to the journal, so a busy
    # journal never holds a publish (the handler's lock was where 8 senders queued up)
    records = queue.SimpleQueue()
    journal = logging.StreamHandler()
    journal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    listener = logging.handlers.QueueListener(records, journal)
    logging.basicConfig(level=logging.INFO, handlers=[logging.handlers.QueueHandler(records)])
    listener.start()
    import waitress  # imported late: --check-config needs no server

    from .app import Receiver

    app = Receiver(cfg)
    repaired = app.store.repair_spool()  # before the first request: the spool matches the database
    if repaired["rewritten"] or repaired["removed"]:
        logging.getLogger("lalert_receiver").warning("spool repaired at start-up: %s", repaired)
    waitress.serve(
        app,
        host=cfg.listen_host,
        port=cfg.listen_port,
        threads=cfg.threads,
        ident="lalert-receiver",
        trusted_proxy="127.0.0.1",
        trusted_proxy_headers={"x-forwarded-for"},
        clear_untrusted_proxy_headers=True,
        max_request_body_size=cfg.max_body_bytes * 2,  # ours faults first
        # slow or idle clients cannot hold the server: bounded count, closed when idle
        connection_limit=cfg.connection_limit,
        channel_timeout=cfg.channel_timeout,
        cleanup_interval=max(1, cfg.channel_timeout // 3),
    )
    listener.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
