"""``python -m gateway bulk send FILE``: a CSV of recipients to ``POST /api/campaigns/{c}/bulk``,
then a progress bar until the bulk ends.

The CSV has a ``to`` column (E.164 phones) and one column per template variable, by name
(``customer_name``) or position (``1``). The Idempotency-Key is the file's digest with the
campaign and template, so running the same command twice sends nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import requests


def read_recipients(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "to" not in reader.fieldnames:
            raise ValueError(f"{path}: the first line must name the columns, one of them `to`")
        return [{"to": row["to"].strip(),
                 "variables": {k: (v or "").strip() for k, v in row.items()
                               if k and k != "to"}} for row in reader]


def bar(counts: dict[str, int], total: int, width: int = 30) -> str:
    done = total - counts.get("queued", 0)
    filled = int(width * done / (total or 1))
    rest = " ".join(f"{k} {v}" for k, v in counts.items() if v and k != "queued")
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rest}"


def send(url: str, token: str, campaign: str, template: str, path: Path, department: str = "",
         wait: bool = True, every: float = 1.0, out: TextIO = sys.stderr) -> dict[str, Any]:
    rows = read_recipients(path)
    key = hashlib.sha256(path.read_bytes() + f"|{campaign}|{template}".encode()).hexdigest()
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key[:40]}
    body: dict[str, Any] = {"template": template, "recipients": rows}
    if department:
        body["department"] = department
    base = url.rstrip("/") + f"/api/campaigns/{campaign}/bulk"
    resp = requests.post(base, json=body, headers=headers, timeout=60)
    if resp.status_code >= 400:
        raise RuntimeError(f"{resp.status_code}: {resp.json().get('error', resp.text)}")
    bid = resp.json()["id"]
    print(f"bulk {bid}: {len(rows)} recipient(s)"
          + (" (already created by an earlier run)" if resp.json().get("duplicate") else ""),
          file=out)
    while True:
        data = requests.get(f"{base}/{bid}", params={"results": "0"}, headers=headers,
                            timeout=30).json()
        print("\r" + bar(data["counts"], data["total"]), end="", file=out, flush=True)
        if not wait or data["status"] != "running":
            print(file=out)
            return data
        time.sleep(every)
