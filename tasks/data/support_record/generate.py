#!/usr/bin/env python3
"""Generate the Lumen Freight support-record demo dataset (format family).

Each customer message must become the house ticket record, one line of JSON:

    {"type": "DMG"|"DLY"|"BIL"|"ADR"|"RFD",      house type codes
     "tracking": "LF12A3456789" | null,          parcel number as written
     "invoice": "INV-2025-12345" | null,
     "amount_eur": 218.45 | null,                a number, never a string
     "items": ["bike frame", ...],               goods named in the message
     "priority": "P1"|"P2"|"P3",                 P1 urgent/asap/today, P3 no rush, else P2
     "contact": {"name": "Maria" | null, "callback": true|false}}

The codes, the priority rule and the exact field names are house
conventions a base model cannot know. Deterministic (seeded) and
dependency-free; writes train/dev/test.jsonl next to this file.
Run: python3 generate.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261128
SPLITS = [("train", 180), ("dev", 60), ("test", 80)]
TYPES = ["DMG", "DLY", "BIL", "ADR", "RFD"]
NAMES = ["Maria", "Tom", "Priya", "Jonas", "Aoife", "Luca", "Sam", "Ines", "Karl", "Fatima"]
ITEMS = ["bike frame", "standing desk", "coffee machine", "laptop", "desk lamp", "monitor",
         "guitar", "office chair", "rug", "printer toner", "mirror", "kettle", "wine glasses",
         "running shoes", "ceramic mugs"]
CITIES = ["Leeds", "Porto", "Gdansk", "Hamburg", "Dublin", "Antwerp", "Lyon", "Cork"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

BODY = {
    "DMG": ["the {items} in parcel {tracking} arrived broken",
            "opened {tracking} and the {items} is damaged",
            "my {items} came smashed, parcel {tracking}"],
    "DLY": ["parcel {tracking} with my {items} is still not here after a week",
            "where is {tracking}? the {items} was due on {day}",
            "tracking {tracking} has not moved for days, it has my {items}"],
    "BIL": ["invoice {invoice} charges me EUR {amount} twice",
            "I was billed EUR {amount} on {invoice} for a delivery I never booked",
            "please correct {invoice}, the EUR {amount} fee is wrong"],
    "ADR": ["please send parcel {tracking} to our {city} office instead",
            "can you redirect {tracking} ({items}) to my neighbour in {city}",
            "change the delivery address of {tracking} to {city}"],
    "RFD": ["I cancelled the order with the {items}, refund the EUR {amount} please",
            "{tracking} never arrived, I want my EUR {amount} back",
            "refund EUR {amount} for the {items}, I sent it back on {day}"],
}
URGENT = ["Urgent:", "ASAP please.", "I need this sorted today.", "This is urgent."]
RELAXED = ["No rush.", "Whenever you get a chance.", "Not urgent."]
CALLBACK = ["Please call me back.", "Can someone phone me?", "Call me on my mobile."]


def _tracking(rng: random.Random) -> str:
    return f"LF{rng.randint(10, 99)}{rng.choice('ABCDEFGHKMNPRTUX')}{rng.randint(10**6, 10**7 - 1)}"


def make(rng: random.Random, i: int) -> dict[str, object]:
    """One message and its gold record."""
    kind = TYPES[i % len(TYPES)]
    items = rng.sample(ITEMS, 2 if rng.random() < 0.2 else 1)
    ctx = {"tracking": _tracking(rng), "invoice": f"INV-2025-{rng.randint(10000, 99999)}",
           "amount": f"{rng.randint(12, 480)}.{rng.randint(0, 99):02d}",
           "items": " and ".join(items), "city": rng.choice(CITIES), "day": rng.choice(DAYS)}
    body = rng.choice(BODY[kind])
    text = body.format(**ctx)
    text = text[0].upper() + text[1:] + "."
    mood = rng.random()
    priority = "P2"
    if mood < 0.3:
        priority = "P1"
        text = f"{rng.choice(URGENT)} {text}" if rng.random() < 0.5 else f"{text} {rng.choice(URGENT)}"
    elif mood < 0.5:
        priority = "P3"
        text = f"{text} {rng.choice(RELAXED)}"
    callback = rng.random() < 0.3
    if callback:
        text += " " + rng.choice(CALLBACK)
    name = rng.choice(NAMES) if rng.random() < 0.6 else None
    if name:
        text += f" Thanks, {name}"
    elif rng.random() < 0.5:
        text = "Hi, " + text[0].lower() + text[1:]
    record = {
        "type": kind,
        "tracking": ctx["tracking"] if "{tracking}" in body else None,
        "invoice": ctx["invoice"] if "{invoice}" in body else None,
        "amount_eur": float(ctx["amount"]) if "{amount}" in body else None,
        "items": items if "{items}" in body else [],
        "priority": priority,
        "contact": {"name": name, "callback": callback},
    }
    return {"id": f"rec-{i:04d}", "message": text, "record": record}


def main() -> None:
    """Write the three splits."""
    rng = random.Random(SEED)
    here = Path(__file__).parent
    i = 0
    for split, n in SPLITS:
        rows = []
        for _ in range(n):
            rows.append(make(rng, i))
            i += 1
        (here / f"{split}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
