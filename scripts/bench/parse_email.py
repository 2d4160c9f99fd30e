#!/usr/bin/env python3
"""Measure Python's standard email package over a pack from mailtriage-bench.

One parse is email.message_from_bytes(raw, policy=email.policy.default),
then a walk over every part: each header field of each part is read through
the policy's header classes (addresses, dates and encoded words parsed), and
the content of each leaf part is decoded with get_content() (transfer
encoding undone, text converted to str), or with get_payload(decode=True)
when get_content() raises. Only the standard library is used.

The pass rule is the one of Limits in internal/benchparse, and the JSON
printed on stdout has the fields of its Result.
"""

import argparse
import email
import email.policy
import json
import os
import platform
import statistics
import sys
import time

WORK = ("email.message_from_bytes(raw, policy=email.policy.default), then a walk over every part: "
        "each header field of each part read through the policy's header classes (addresses, dates "
        "and encoded words parsed), and the content of each leaf part decoded with get_content() "
        "(transfer encoding undone, text converted to str), or with get_payload(decode=True) when "
        "get_content() raises")


def parse(raw):
    """Parse one message and decode every header field and leaf part."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for part in message.walk():
        for _name, _value in part.items():
            pass
        if part.is_multipart():
            continue
        try:
            part.get_content()
        except Exception:  # noqa: BLE001 - any decoding failure falls back to the raw payload
            part.get_payload(decode=True)


def read_pack(folder):
    """Return the pack index and the bytes of each message."""
    with open(os.path.join(folder, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    with open(os.path.join(folder, "messages.bin"), "rb") as f:
        data = f.read()
    if len(data) != index["bytes"]:
        sys.exit(f"parse_email.py: invalid pack: the data file contains {len(data)} bytes, but the index lists {index['bytes']}; write the pack again")
    raws = [data[m["offset"]:m["offset"] + m["size"]] for m in index["messages"]]
    return index, raws


def run_pass(raws):
    """Parse every message once; return the seconds taken and the failures."""
    failed = 0
    start = time.perf_counter()
    for raw in raws:
        try:
            parse(raw)
        except Exception:  # noqa: BLE001 - a failed message is counted, as in the Go runner
            failed += 1
    return time.perf_counter() - start, failed


def done(args, passes, elapsed):
    """Apply the stopping rule of Limits in internal/benchparse."""
    return (passes >= args.max_passes
            or (passes >= args.min_passes and elapsed >= args.min_seconds)
            or elapsed >= args.max_seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", required=True, help="pack folder written by mailtriage-bench pack")
    parser.add_argument("--min-passes", type=int, default=3, help="timed passes before stopping early")
    parser.add_argument("--max-passes", type=int, default=5, help="maximum timed passes")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="seconds of timed passes before stopping early")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="hard cap on the seconds of timed passes")
    args = parser.parse_args()
    if args.min_passes < 1 or args.max_passes < args.min_passes or args.max_seconds < args.min_seconds:
        parser.error("need 1 <= --min-passes <= --max-passes and --min-seconds <= --max-seconds")

    index, raws = read_pack(args.pack)
    warmup, failed = run_pass(raws)
    passes, elapsed = [], 0.0
    while not done(args, len(passes), elapsed):
        took, _ = run_pass(raws)
        passes.append(took)
        elapsed += took

    median = statistics.median(passes)
    json.dump({
        "parser": "python-email",
        "version": "standard library",
        "runtime": f"{platform.python_implementation()} {platform.python_version()}",
        "work": WORK,
        "pack": index["selection"],
        "messages": len(raws),
        "bytes": index["bytes"],
        "failed": failed,
        "warmupSeconds": warmup,
        "passSeconds": passes,
        "medianSeconds": median,
        "mbPerSecond": index["bytes"] / 1e6 / median,
        "messagesPerSecond": len(raws) / median,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
