#!/usr/bin/env python3
"""Generate the Lumen Freight support-routing demo dataset.

Lumen Freight (a fictional parcel/freight carrier) routes customer-support
messages to internal queues with house-specific code names:

    ORCA  billing disputes and invoice errors
    TIDE  shipment delayed or stuck in transit
    KELP  goods arrived damaged or items missing from a parcel
    REEF  account access and login problems
    GULL  change delivery address / time window for a shipped parcel
    DUNE  refund requests for a cancelled or undelivered order
    PIKE  customs paperwork, import duties, clearance holds
    MOSS  cancel or change a subscription/contract plan

Deterministic (seeded) and dependency-free. Writes train.jsonl, dev.jsonl and
test.jsonl next to this file. Run: python3 generate.py
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20261125
SPLITS = [("train", 30), ("dev", 8), ("test", 10)]  # (name, examples per label)
LABELS = ["ORCA", "TIDE", "KELP", "REEF", "GULL", "DUNE", "PIKE", "MOSS"]
MAX_LEN = 220

CITIES = [
    "Leeds", "Rotterdam", "Lyon", "Porto", "Gdansk", "Bristol", "Hamburg",
    "Valencia", "Dublin", "Antwerp", "Turin", "Malmo", "Cork", "Bilbao",
    "Utrecht", "Graz", "Nantes", "Aarhus",
]
PRODUCTS = [
    "a standing desk", "two office chairs", "a coffee machine", "a box of ceramic mugs",
    "a bike frame", "a laptop", "printer toner", "a set of kitchen knives",
    "a pallet of tiles", "a mirror", "a guitar", "vinyl records", "a monitor",
    "running shoes", "a lamp", "spare car parts", "a rug", "wine glasses",
]
COUNTRIES = ["Switzerland", "Norway", "the US", "Canada", "the UK", "Japan", "Australia", "Turkey"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
WEEKS = ["a week", "10 days", "two weeks", "5 days", "over a week", "three weeks"]

OPENERS = [
    "", "", "", "Hi,", "Hello,", "Hi there,", "Good morning,", "Hey,", "Dear support,",
    "Hello team,", "Hi Lumen,", "Quick question:", "Urgent:", "Hi all,",
]
CLOSERS = [
    "", "", "", "", "Thanks.", "Thank you!", "Thanks in advance.", "Please advise.",
    "Cheers", "Regards, {name}", "Thanks, {name}", "Appreciate the help.",
    "Please get back to me asap.", "Kind regards.",
]
NAMES = ["Maria", "Tom", "Priya", "Jonas", "Aoife", "Luca", "Sam", "Ines", "Karl", "Fatima", "Dev", "Ruth"]


def fill(rng: random.Random, s: str, ctx: dict[str, str]) -> str:
    """Fill placeholders with concrete values; a key reused within one message
    (ctx) keeps the same value so the sentences stay consistent."""
    def day2() -> str:
        return rng.choice([d for d in DAYS if d != ctx.get("day")])

    def city2() -> str:
        return rng.choice([c for c in CITIES if c != ctx.get("city")])

    values = {
        "order": lambda: f"{rng.choice(['#', 'order ', 'order #', 'ord '])}{rng.randint(100000, 999999)}",
        "track": lambda: f"LF{rng.randint(10, 99)}{rng.choice('ABCDEFGHJKMNPRSTUVWXYZ')}{rng.randint(1000000, 9999999)}",
        "inv": lambda: f"INV-{rng.randint(2024, 2026)}-{rng.randint(1000, 99999)}",
        "city": lambda: rng.choice(CITIES),
        "city2": city2,
        "product": lambda: rng.choice(PRODUCTS),
        "country": lambda: rng.choice(COUNTRIES),
        "day": lambda: rng.choice(DAYS),
        "day2": day2,
        "weeks": lambda: rng.choice(WEEKS),
        "amount": lambda: f"{rng.choice(['EUR ', '€', '£', '$'])}{rng.randint(12, 980)}.{rng.choice(['00', '50', '99', '20', '45'])}",
        "amount2": lambda: f"{rng.randint(5, 400)}",
        "n": lambda: str(rng.randint(2, 6)),
        "name": lambda: rng.choice(NAMES),
        "email": lambda: f"{rng.choice(NAMES).lower()}.{rng.choice(['ops', 'shop', 'home', 'work'])}@{rng.choice(['mail.com', 'example.org', 'webpost.eu'])}",
        "time": lambda: rng.choice(["9-12", "after 5pm", "the morning", "before noon", "2-6pm", "the afternoon", "after 6"]),
    }
    out = s
    for key, gen in values.items():
        tok = "{" + key + "}"
        if tok in out:
            if key not in ctx:
                ctx[key] = gen()
            out = out.replace(tok, ctx[key])
    return out


def placeholders(s: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", s))


# Core phrasings per label (each clearly belongs to one queue).
CORE: dict[str, list[str]] = {
    "ORCA": [
        "I was charged {amount} for shipment {track} but the quote was lower.",
        "My card got hit twice for the same delivery, {order}.",
        "Invoice {inv} lists {n} parcels, we only sent one.",
        "Your invoice {inv} doesn't match what we agreed on the phone.",
        "There's a fuel surcharge on {inv} that was never mentioned to us.",
        "Why does my statement show two payments of {amount} to Lumen Freight?",
        "The weight on invoice {inv} is way off, the box was 2kg not 20kg.",
        "we got billed for express but paid for standard on {order}",
        "I think there's a mistake on our monthly bill, the total is {amount} higher than usual.",
        "Invoice {inv} has the wrong VAT number and the total looks wrong too.",
        "You charged me a re-delivery fee but nobody ever came to the door.",
        "I dispute the {amount} on invoice {inv}, please send a corrected one.",
        "Payment for {track} was taken from our account two times this week.",
        "The price on the invoice is not what the checkout showed me.",
        "Got an invoice for a shipment we never booked: {inv}.",
    ],
    "TIDE": [
        "My parcel {track} hasn't moved in {weeks}.",
        "Tracking for {order} has said 'in transit' since {day} and nothing since.",
        "The delivery was promised for {day}, still nothing.",
        "Where is my package? It left {city} {weeks} ago.",
        "{track} is stuck at the {city} depot according to tracking.",
        "The estimated delivery date keeps getting pushed back for {order}.",
        "tracking hasn't updated for days, is my box lost?",
        "Our pallet to {city} is {n} days late and the customer is chasing us.",
        "Parcel {track} was supposed to arrive yesterday, the status hasn't changed.",
        "It's been {weeks} and {product} still hasn't shown up.",
        "Last scan on {track} was in {city}, {weeks} ago.",
        "Any update on {order}? It's very overdue.",
        "My shipment seems to be sitting in a hub in {city} and not moving.",
        "The app says out for delivery since {day} but it never came.",
    ],
    "KELP": [
        "{product} arrived smashed, the box was crushed.",
        "Opened parcel {track} and {product} is broken.",
        "The package came but one of the {n} items is missing.",
        "Box was torn open on arrival and half the contents are gone.",
        "We received {order} with water damage all over it.",
        "only {n} of the boxes arrived, the rest weren't in the delivery",
        "The screen on the monitor is cracked, the outer carton has a big dent.",
        "Parcel {track} showed up empty apart from packing foam.",
        "{product} was bent and scratched when it got here.",
        "Something is missing from my parcel, the packing list shows more than I got.",
        "The pallet arrived in {city} with two cartons crushed.",
        "Received {order} today, the glass inside is shattered.",
        "The tape on the box had been cut and resealed, and what I ordered is gone.",
        "Delivery arrived but the contents are dented and unusable.",
    ],
    "REEF": [
        "I can't log in to my Lumen account, it says wrong password.",
        "The password reset email never arrives at {email}.",
        "My account got locked after too many attempts.",
        "I'm not getting the 2FA code on my phone anymore.",
        "Changed my phone number and now I can't get the verification code.",
        "Login page just keeps loading and kicks me back out.",
        "the reset link says it has expired every time i click it",
        "Our business portal login stopped working for {n} of our staff.",
        "I need to get back into my account, I forgot which email I signed up with.",
        "It says my account is suspended when I try to sign in.",
        "The authenticator app code is always rejected.",
        "Can't access the shipping dashboard since the update, credentials rejected.",
        "Someone may have changed my password, I can't sign in now.",
        "I lost my phone so I can't get past two-factor.",
    ],
    "GULL": [
        "Can I redirect {track} to my office in {city} instead?",
        "I won't be home on {day}, can the parcel come {time} instead?",
        "Please deliver {order} to my neighbour's address, it's already shipped.",
        "I typed the wrong street number, can you correct it before it arrives?",
        "Is it possible to change the delivery slot for {track} to {time}?",
        "We've moved to {city}, can the package already on its way go there?",
        "Could you send {order} to a pickup point instead of my home?",
        "need my parcel delivered {day2} instead of {day}, I'm away",
        "The parcel is on its way but I need it at my work address, not home.",
        "Can the driver come {time}? Nobody is at reception before that.",
        "Please hold {track} and deliver it next week, I'm travelling.",
        "Wrong postcode on the label for {order}, the right one is in {city}.",
        "Can I pick a different delivery day for the shipment you sent yesterday?",
        "Please reroute {track} to our warehouse in {city}.",
    ],
    "DUNE": [
        "I cancelled {order} before it shipped, when do I get my money back?",
        "The parcel never arrived and I want a refund of {amount}.",
        "Please refund me for {track}, it was returned to sender and never reached me.",
        "I cancelled the booking on {day} but the money hasn't come back.",
        "My order was cancelled by you, how long does the refund take?",
        "Still waiting on the refund for the shipment you lost.",
        "you said my refund was processed {weeks} ago but nothing on my card",
        "The delivery never happened, I'd like the shipping cost back please.",
        "I cancelled the pickup for {order}, can you return the {amount}?",
        "{product} was never delivered, I want my money returned.",
        "Can I get reimbursed for {track}? It was marked lost.",
        "The shipment was cancelled, please send the {amount} back to my card.",
        "I want a refund for {order}, the courier never collected it.",
        "Refund for a cancelled shipment still not received after {weeks}.",
    ],
    "PIKE": [
        "My parcel from {country} is held at customs, what do you need from me?",
        "Why am I being asked to pay import duty of {amount} on {track}?",
        "Customs says the commercial invoice is missing for {order}.",
        "What HS code should I use for {product} going to {country}?",
        "The shipment is stuck in clearance, they want a proforma invoice.",
        "I got a letter asking for {amount} in import tax before delivery.",
        "Do I need an EORI number to send {product} to {country}?",
        "{track} is on a clearance hold, who fills in the customs declaration?",
        "Can you help with the export paperwork for a pallet to {country}?",
        "The tariff charged on {product} from {country} seems too high.",
        "customs in {city} is asking for proof of value for my package",
        "Who pays the duties on a shipment from {country}, me or the sender?",
        "Our goods are held by border control, the CN23 form was rejected.",
        "How do I get the duties on {track} refunded, it was a gift under the limit.",
    ],
    "MOSS": [
        "I'd like to end our business plan at the end of this month.",
        "Please switch us from the monthly plan to the yearly one.",
        "How do I cancel my Lumen Plus membership?",
        "We want to downgrade our contract, we're shipping way less now.",
        "Can we upgrade to the plan with {amount2} parcels a month?",
        "Please don't renew our annual contract, we're closing the shop.",
        "i want to stop the monthly subscription, how?",
        "Can we move from the starter tier to the business tier next month?",
        "What's the notice period to terminate our shipping contract?",
        "Please cancel the recurring plan on account {order}.",
        "We'd like to pause our subscription over the summer.",
        "Is it possible to change our plan to pay-as-you-go instead?",
        "Our contract renews on {day}, we want to change to a smaller package.",
        "I'd like to add {n} more users by moving to the team plan.",
    ],
}

# Optional short context sentences (label-neutral or label-consistent).
EXTRA: dict[str, list[str]] = {
    "ORCA": ["Can you check the charges?", "Please fix the bill.", "Our accounts team flagged it.",
             "I have the bank statement if needed.", "We pay by direct debit."],
    "TIDE": ["Can you tell me where it is?", "The recipient keeps asking.", "It was sent from {city}.",
             "It's {product}.", "It was sent express."],
    "KELP": ["I have photos.", "It was {product}.", "The driver left it at the door.",
             "What should I do with the damaged goods?", "I kept all the packaging."],
    "REEF": ["I've tried three times.", "I've already cleared my cookies.", "My username is {email}.",
             "I need to book a pickup today.", "Tried on phone and laptop."],
    "GULL": ["It's {track}.", "The parcel is {product}.", "It left the depot already.",
             "I'm happy to pay extra.", "The driver can call me when close."],
    "DUNE": ["I paid by card.", "It's been {weeks}.", "The reference is {track}.",
             "I don't want a reship.", "It was {product}."],
    "PIKE": ["It's {product}.", "It's coming from {country}.", "I have the receipt.",
             "It was sent as a private gift.", "The sender is a company in {country}."],
    "MOSS": ["Our account number is {order}.", "We have {n} people using the account.",
             "Nothing wrong with the service.", "Ideally before the next billing cycle.", "We're a small shop in {city}."],
}

TYPOS = [("the ", "teh "), ("receive", "recieve"), ("parcel", "parcle"), ("please", "pls"),
         ("you", "u"), ("package", "pakage"), ("because", "bc"), ("week", "wek")]


def make_message(rng: random.Random, label: str) -> str:
    ctx: dict[str, str] = {}
    core_t = rng.choice(CORE[label])
    core = fill(rng, core_t, ctx)
    opener = rng.choice(OPENERS)
    if opener.endswith(",") and not re.match(r"I\b", core) and not core.startswith("LF"):
        core = core[0].lower() + core[1:]  # "Hi, my parcel ..."
    parts = [opener, core] if opener else [core]
    if rng.random() < 0.45:
        # Only add context that does not restate or contradict the core.
        extras = [e for e in EXTRA[label] if not (placeholders(e) & placeholders(core_t))]
        if extras:
            parts.append(fill(rng, rng.choice(extras), ctx))
    closer = rng.choice(CLOSERS)
    if closer and rng.random() < 0.7:
        parts.append(fill(rng, closer, ctx))
    for i in range(len(parts) - 1):
        if parts[i] is not opener and parts[i][-1] not in ".?!:,":
            parts[i] += "."
    text = " ".join(parts)
    # Occasional chat-style casing and typos.
    if rng.random() < 0.12:
        text = text.lower()
    if rng.random() < 0.12:
        a, b = rng.choice(TYPOS)
        if a in text:
            text = text.replace(a, b, 1)
    return text


def main() -> None:
    rng = random.Random(SEED)
    here = Path(__file__).resolve().parent
    seen: set[str] = set()
    counter = 0
    for split, per_label in SPLITS:
        rows = []
        for label in LABELS:
            made = 0
            tries = 0
            while made < per_label:
                tries += 1
                if tries > 10000:
                    raise RuntimeError(f"could not generate enough unique texts for {label}")
                text = make_message(rng, label)
                key = " ".join(text.lower().split())
                if key in seen or len(text) > MAX_LEN:
                    continue
                if any(code.lower() in key.split() for code in LABELS):
                    continue
                seen.add(key)
                rows.append({"text": text, "queue": label})
                made += 1
        rng.shuffle(rows)
        with open(here / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                counter += 1
                rec = {"id": f"sr-{counter:05d}", "text": row["text"], "queue": row["queue"]}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        print(f"wrote {split}.jsonl: {len(rows)} rows")


if __name__ == "__main__":
    main()
