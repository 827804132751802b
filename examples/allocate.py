#!/usr/bin/env python3
"""Allocating from a Python script, done right against the allocation API
(docs/contract.md). Standard library only: copy this file next to your script.

- allocate_resource(base, pool, amount, ...) -> the granted unit names.
  One Idempotency-Key for every attempt, so a retry after a lost answer
  never allocates twice; retries on network errors, 429 and 5xx with
  exponential backoff and full jitter, honouring Retry-After; any other
  problem raised as AllocationProblem with the server's words.
- release(base, allocation_id) gives the units back.
- monitor_resource_usage(base) polls /usage every minute with ETag /
  If-None-Match (a 304 costs the server almost nothing) and reports each
  pool's level.

From the command line:
    allocate.py http://127.0.0.1:8080/api/v1 gpu-a100 2 --ttl 3600
    allocate.py http://127.0.0.1:8080/api/v1 --monitor [--interval 60] [--rounds N]
The bearer token, if the server wants one, comes from ALLOC_TOKEN.
"""

import argparse
import email.utils
import json
import os
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
WARNING_PERCENT = 80
CRITICAL_PERCENT = 95


class AllocationProblem(Exception):
    """The server refused: its problem document (RFC 9457) in `problem`."""

    def __init__(self, status, problem):
        self.status = status
        self.problem = problem
        words = f"{problem.get('title') or 'HTTP error'} ({status})"
        if problem.get("detail"):
            words += f": {problem['detail']}"
        if problem.get("available") is not None:
            words += f" ({problem['available']} available now)"
        for error in problem.get("errors") or []:
            words += f"; {error.get('field')}: {error.get('message')}"
        super().__init__(words)

    def is_a(self, slug):
        """Whether the problem's type ends in /slug (any server's base)."""
        return str(self.problem.get("type", "")).rsplit("/", 1)[-1] == slug


class Unreachable(Exception):
    """No answer from the server after every attempt."""


def _send(base, method, path, body=None, headers=None, token=None, timeout=30):
    """One HTTP exchange: (status, headers, body bytes) for any status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base.rstrip("/") + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    token = token or os.environ.get("ALLOC_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _problem(status, body):
    try:
        problem = json.loads(body)
        if isinstance(problem, dict):
            return problem
    except ValueError:
        pass
    return {"title": f"HTTP {status}", "status": status}


def _retry_after(value, now=None):
    """Retry-After as seconds to wait: delay seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def _is_transient(status, body):
    if status in TRANSIENT_STATUSES:
        return True
    # The same key still being served (our first attempt, answer lost).
    return status == 409 and str(_problem(status, body).get("type", "")).endswith(
        "/idempotency-key-in-flight"
    )


def _call(base, method, path, body=None, headers=None, token=None,
          attempts=6, base_delay=0.25, max_delay=8.0, sleep=time.sleep):
    """The exchange, retried while the outcome is transient. The request is
    sent as it is each time, so a POST keeps its Idempotency-Key."""
    for attempt in range(attempts):
        retry_after = None
        try:
            status, answer_headers, data = _send(base, method, path, body, headers, token)
        except (urllib.error.URLError, OSError) as error:
            if attempt + 1 == attempts:
                raise Unreachable(f"{base}: {error}") from error
        else:
            if not _is_transient(status, data) or attempt + 1 == attempts:
                return status, answer_headers, data
            retry_after = _retry_after(answer_headers.get("Retry-After"))
        backoff = random.uniform(0, min(max_delay, base_delay * 2 ** attempt))
        sleep(min(retry_after, 60.0) if retry_after is not None else backoff)
    raise Unreachable(base)  # not reached: the last attempt returns or raises


def allocate(base, pool, amount, owner=None, ttl_seconds=None, note=None, token=None, **retry):
    """POST /allocations; the Allocation as a dict. `owner` may be left out
    when the token names a user (the server fills it in)."""
    body = {"pool": pool, "amount": amount}
    if owner is not None:
        body["owner"] = owner
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds
    if note is not None:
        body["note"] = note
    key = f"py-{uuid.uuid4().hex}"  # one key for every attempt of this request
    status, _, data = _call(base, "POST", "/allocations", body,
                            {"Idempotency-Key": key}, token, **retry)
    if status not in (200, 201):
        raise AllocationProblem(status, _problem(status, data))
    return json.loads(data)


def allocate_resource(base, pool, amount, owner=None, ttl_seconds=None, note=None, token=None, **retry):
    """Allocates `amount` units of `pool`; the granted unit names."""
    return allocate(base, pool, amount, owner, ttl_seconds, note, token, **retry)["resources"]


def release(base, allocation_id, token=None, **retry):
    """DELETE /allocations/{id}: 204 also when it had already ended."""
    path = "/allocations/" + urllib.parse.quote(allocation_id, safe="")
    status, _, data = _call(base, "DELETE", path, token=token, **retry)
    if status != 204:
        raise AllocationProblem(status, _problem(status, data))


def level(pool):
    """'normal', 'warning' or 'critical', as the console colours it."""
    capacity, allocated = pool["capacity"], pool["allocated"]
    percent = 100 if capacity == 0 and allocated else (allocated * 100 // capacity if capacity else 0)
    if percent >= CRITICAL_PERCENT:
        return "critical"
    return "warning" if percent >= WARNING_PERCENT else "normal"


class UsageMonitor:
    """GET /usage with the last ETag: a 304 means nothing changed."""

    def __init__(self, base, token=None):
        self.base, self.token = base, token
        self.etag, self.usage = None, None

    def poll(self):
        """(usage, changed); the last usage again on a 304."""
        headers = {"If-None-Match": self.etag} if self.etag else {}
        status, answer_headers, data = _call(self.base, "GET", "/usage", headers=headers,
                                             token=self.token)
        if status == 304 and self.usage is not None:
            return self.usage, False
        if status != 200:
            raise AllocationProblem(status, _problem(status, data))
        self.usage, self.etag = json.loads(data), answer_headers.get("ETag")
        return self.usage, True


def monitor_resource_usage(base, interval=60, rounds=None, token=None, report=print):
    """Polls every `interval` seconds (`rounds` times, or forever) and
    reports a line per pool; a failed poll is reported and waited out."""
    monitor, done = UsageMonitor(base, token), 0
    while rounds is None or done < rounds:
        try:
            usage, changed = monitor.poll()
            for pool in usage["pools"]:
                report(f"{pool['id']} {pool['allocated']}/{pool['capacity']} {pool['unit']} "
                       f"{level(pool)}{'' if changed else ' (unchanged)'}")
        except (AllocationProblem, Unreachable) as error:
            report(f"usage poll failed: {error}")
        done += 1
        if rounds is None or done < rounds:
            time.sleep(interval)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the API's base URL, e.g. http://127.0.0.1:8080/api/v1")
    parser.add_argument("pool", nargs="?")
    parser.add_argument("amount", nargs="?", type=int)
    parser.add_argument("--owner")
    parser.add_argument("--ttl", type=int, help="seconds")
    parser.add_argument("--note")
    parser.add_argument("--monitor", action="store_true", help="poll usage instead")
    parser.add_argument("--interval", type=float, default=60)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args(argv)
    if args.monitor:
        monitor_resource_usage(args.base, args.interval, args.rounds)
        return 0
    if args.pool is None or args.amount is None:
        parser.error("POOL and AMOUNT are needed unless --monitor")
    try:
        units = allocate_resource(args.base, args.pool, args.amount, args.owner, args.ttl, args.note)
    except AllocationProblem as problem:
        print(f"allocate.py: {problem}", file=sys.stderr)
        return 3 if problem.is_a("insufficient-capacity") else 1
    except Unreachable as error:
        print(f"allocate.py: no answer: {error}", file=sys.stderr)
        return 1
    print("\n".join(units))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
