#!/usr/bin/env python3
"""reference.py — an independent reference for the billing connectors' sums.

Reads a billing CSV with Python's csv module and decimal arithmetic (no
floats), groups rows by (resource, UTC day, currency) as docs/connectors.md
describes, rounds each group's exact sums to micro-units (half away from
zero) and prints, per currency, the number of facts and the billed and
effective totals in micro-units.  tests/test_billing.c asserts the numbers
this prints for the public samples (see the comments there).

Usage: reference.py focus|cur|gcp FILE
"""
import ast
import csv
import datetime
import json
import sys
from decimal import Decimal, ROUND_HALF_UP, getcontext

getcontext().prec = 80


def dec(s):
    s = (s or "").strip()
    if s in ("", "NULL", "null"):
        return Decimal(0)
    return Decimal(s)


def day(s):
    s = s.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
    if len(s) > 10 and s[10] == "T":
        s = s[:10] + " " + s[11:]
    if len(s) == 10:
        return s
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is not None:
        d = d.astimezone(datetime.timezone.utc)
    return d.date().isoformat()


def cell(row, name):
    v = row.get(name, "") or ""
    return "" if v in ("NULL", "null") else v


def jsonish(s):
    try:
        return json.loads(s)
    except ValueError:
        return ast.literal_eval(s)


def main():
    kind, path = sys.argv[1], sys.argv[2]
    groups = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            if kind == "focus":
                rid = cell(row, "ResourceId")
                key = rid or "service/" + (cell(row, "ServiceName") or "unknown")
                prov = cell(row, "ProviderName") or cell(row, "PublisherName")
                key = prov.lower() + "/" + key
                b, e = dec(row["BilledCost"]), dec(row["EffectiveCost"])
                cur, d = row["BillingCurrency"].upper(), day(row["ChargePeriodStart"])
            elif kind == "cur":
                rid = cell(row, "lineItem/ResourceId")
                svc = cell(row, "product/ProductName") or cell(row, "lineItem/ProductCode")
                key = rid or "service/" + (svc or "unknown")
                b = dec(row["lineItem/UnblendedCost"])
                e = dec(cell(row, "lineItem/NetUnblendedCost")) if cell(row, "lineItem/NetUnblendedCost") else b
                t = cell(row, "lineItem/LineItemType")
                if "savingsPlan/SavingsPlanEffectiveCost" in row:
                    if t == "SavingsPlanCoveredUsage":
                        e = dec(row["savingsPlan/SavingsPlanEffectiveCost"])
                    elif t in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
                        e = Decimal(0)
                cur, d = row["lineItem/CurrencyCode"], day(row["lineItem/UsageStartDate"])
            else:
                rid = cell(row, "resource.global_name") or cell(row, "resource.name")
                key = rid or "service/" + (cell(row, "service.description") or "unknown")
                b = dec(row["cost"])
                e = b
                for c in jsonish(row.get("credits") or "[]"):
                    e += dec(str(c["amount"]))
                cur, d = row["currency"].upper(), day(row["usage_start_time"])
            g = groups.setdefault((key, d, cur), [Decimal(0), Decimal(0)])
            g[0] += b
            g[1] += e
    q = Decimal("0.000001")
    tot = {}
    for (key, d, cur), (b, e) in groups.items():
        t = tot.setdefault(cur, [0, 0, 0])
        t[0] += 1
        t[1] += int(b.quantize(q, rounding=ROUND_HALF_UP) * 1000000)
        t[2] += int(e.quantize(q, rounding=ROUND_HALF_UP) * 1000000)
    for cur in sorted(tot):
        print(cur, "facts", tot[cur][0], "billed", tot[cur][1], "effective", tot[cur][2])


main()
