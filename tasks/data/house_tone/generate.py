#!/usr/bin/env python3
"""Generate the Lumen Freight house-tone demo dataset (tone family).

Agents write blunt replies; the house tone rewrites each one warmly,
thanks the customer, apologises when something went wrong, says "we",
keeps every fact (days, amounts, parcel numbers) and closes with an offer
of help. ``blunt`` is the source; ``house`` the reference rewrite; a
second reference ``house_alt`` varies the wording. Deterministic (seeded),
dependency-free; writes train/dev/test.jsonl next to this file.
Run: python3 generate.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261129
SPLITS = [("train", 180), ("dev", 60), ("test", 80)]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
CITIES = ["Leeds", "Porto", "Gdansk", "Hamburg", "Dublin", "Antwerp", "Lyon", "Cork"]

# (blunt templates, house fact clause, apology?)
FACTS = [
    (["Your parcel {tracking} is late. It comes {day}.", "{tracking} is delayed. {day}."],
     "your parcel {tracking} is now due on {day}", True),
    (["Refund of EUR {amount} done. Takes 5 days.", "We sent EUR {amount} back. 5 days."],
     "your refund of EUR {amount} is on its way and should reach you within 5 days", False),
    (["Need the invoice number. Can't do anything without it.",
      "No invoice number, no check. Send it."],
     "could you send us the invoice number so we can check the charge", False),
    (["Address change for {tracking} is not possible anymore.",
      "Too late to change the address of {tracking}."],
     "the address of {tracking} can no longer be changed because it is already out for delivery",
     True),
    (["Damage claims need photos. Upload them.", "Send photos of the damage or no claim."],
     "please upload a few photos of the damage so we can open your claim", True),
    (["Your parcel is in {city} depot. Pick it up by {day}.",
      "Collect it from the {city} depot before {day}."],
     "your parcel is waiting at our {city} depot and can be collected until {day}", False),
    (["Customs hold on {tracking}. Pay the duty of EUR {amount}.",
      "{tracking} stuck at customs until you pay EUR {amount}."],
     "{tracking} is held at customs until the import duty of EUR {amount} is paid", True),
    (["Wrong account. Log in with your work email.", "That is not your account. Use the work email."],
     "it looks like you signed in with another account, so please log in with your work email",
     False),
]
OPEN_THANKS = ["Thank you for getting in touch", "Thanks for reaching out",
               "Thank you for your message", "Thanks for your patience"]
OPEN_SORRY = ["we are sorry for the trouble", "we apologise for the inconvenience",
              "we are sorry about this"]
CLOSE = ["we are happy to help if anything else comes up",
         "let us know if there is anything else we can do",
         "we are here if you need anything else"]
NAMES = ["Maria", "Tom", "Priya", "Jonas", "Aoife", "Luca", "Sam", "Ines", "Karl", "Fatima"]


def _house(rng: random.Random, fact: str, sorry: bool, name: str | None) -> str:
    greet = f"{rng.choice(OPEN_THANKS)}{', ' + name if name else ''}"
    middle = f"{rng.choice(OPEN_SORRY)}: {fact}" if sorry else fact
    return f"{greet}; {middle}, and {rng.choice(CLOSE)}."


def make(rng: random.Random, i: int) -> dict[str, str]:
    """One blunt reply with two house-tone rewrites."""
    blunts, fact, sorry = FACTS[i % len(FACTS)]
    ctx = {"tracking": f"LF{rng.randint(10, 99)}{rng.choice('ABCDEHKMNPRTX')}"
                       f"{rng.randint(10**6, 10**7 - 1)}",
           "day": rng.choice(DAYS), "amount": f"{rng.randint(8, 300)}.{rng.randint(0, 99):02d}",
           "city": rng.choice(CITIES)}
    name = rng.choice(NAMES) if rng.random() < 0.5 else None
    blunt = rng.choice(blunts).format(**ctx)
    if name and rng.random() < 0.5:
        blunt = f"{name}, {blunt[0].lower()}{blunt[1:]}"
    filled = fact.format(**ctx)
    return {"id": f"tone-{i:04d}", "blunt": blunt, "house": _house(rng, filled, sorry, name),
            "house_alt": _house(rng, filled, sorry, name)}


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
