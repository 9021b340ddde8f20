#!/usr/bin/env python3
"""threadpool.py BASE_URL ORG FILE N THREADS: the Python peer of the benchmark.

What an operator would write with the standard library alone: a thread pool of THREADS
workers, each keeping one HTTP/1.1 keep-alive connection (http.client) for all its calls,
resetting the first N SIMs of the fleet CSV FILE (ICCID in the first column, header on the
first line) with PUT {BASE_URL}/{ORG}/Sim/Reset.  The key is read from MONOZ_API_KEY.
Prints one JSON line: sims, ok (2xx answers), failed.  No retries, no rate limit.
"""
import concurrent.futures
import csv
import http.client
import json
import os
import sys
import threading
import urllib.parse


def main():
    base, org, path, n, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    key = os.environ.get("MONOZ_API_KEY", "bench-key")
    url = urllib.parse.urlsplit(base)
    target = url.path.rstrip("/") + "/" + urllib.parse.quote(org, safe="") + "/Sim/Reset"
    headers = {"Content-Type": "application/json", "X-API-Key": key}
    with open(path, newline="") as f:
        rows = csv.reader(f)
        next(rows)
        iccids = [row[0] for _, row in zip(range(n), rows)]

    local = threading.local()

    def reset(iccid):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        try:
            conn.request("PUT", target, body=json.dumps({"ICCID": iccid}), headers=headers)
            resp = conn.getresponse()
            resp.read()
            return 200 <= resp.status < 300
        except (OSError, http.client.HTTPException):
            conn.close()
            local.conn = None
            return False

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        ok = sum(pool.map(reset, iccids))
    print(json.dumps({"sims": len(iccids), "ok": ok, "failed": len(iccids) - ok}))


if __name__ == "__main__":
    main()
