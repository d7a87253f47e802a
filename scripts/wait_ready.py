"""Wait until a dependency really answers (not merely until its port is open), with a deadline.

    python scripts/wait_ready.py amqp amqp://guest:guest@127.0.0.1:5672/ --timeout 60
    python scripts/wait_ready.py mongo mongodb://127.0.0.1:27017/ --timeout 60
    python scripts/wait_ready.py http http://127.0.0.1:8000/healthz --timeout 60

Exits 0 when ready, 1 with the last error when the deadline passes.
"""
import argparse
import sys
import time
import urllib.request


def amqp_ready(url):
    from kombu import Connection
    with Connection(url, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1)


def mongo_ready(url):
    import pymongo
    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=2000)
    try:
        client.admin.command("ping")
    finally:
        client.close()


def http_ready(url):
    with urllib.request.urlopen(url, timeout=2) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")


CHECKS = {"amqp": amqp_ready, "mongo": mongo_ready, "http": http_ready}


def wait(kind, url, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            CHECKS[kind](url)
            return None
        except Exception as exc:  # anything short of an answer means "not yet"
            last = exc
        if time.monotonic() >= deadline:
            return last
        time.sleep(0.25)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=sorted(CHECKS))
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    error = wait(args.kind, args.url, args.timeout)
    if error is not None:
        print(f"{args.kind} {args.url} not ready after {args.timeout:g}s: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
