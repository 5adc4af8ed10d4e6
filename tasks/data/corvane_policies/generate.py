#!/usr/bin/env python3
"""Generate the Corvane Optics policy knowledge demo: a collection and its questions.

Corvane Optics is a fictional lens maker written for this project. Its
internal policies say which of six teams (code names ASTER, BIRCH, CEDAR,
DELTA, EMBER, FJORD) handles each matter. A base model cannot know these
facts: without the policy text every answer is a guess (about 1 in 6);
with the right policy retrieved into the prompt the team's code name is in
front of the model. Each policy ends with the line ``Queue: TEAM``, the
same cue the classification templates end with, so a model given the right
passage can copy the answer. Each question names its gold policy (its
passage id, the file name).

Writes policies/*.md (the knowledge collection, one policy per file) and
train/dev/test.jsonl: per policy one question in train, two in dev and two
in test (24 / 48 / 48), each from a different ask. Dev has 48 because the
prompt baseline is chosen on dev and fewer than ~40 makes that choice noisy
(issue 16). The first four asks of each policy are split exactly as in the
first version of this task (seed SEED); the fifth, added for the larger dev
set, goes to dev and is placed with a second generator (EXTRA_SEED), so
train.jsonl and test.jsonl, and the results measured on them, are unchanged.
Deterministic and dependency-free. Run: python3 generate.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261128
EXTRA_SEED = SEED + 1  # places each policy's fifth ask (dev); SEED's draws stay as they were
# Where the first four asks of each policy go (in an order drawn per policy).
FIRST_SPLITS = ("train", "dev", "test", "test")
HERE = Path(__file__).resolve().parent

# (file stem, team, policy text, five ways a staff member asks about the matter)
POLICIES: list[tuple[str, str, str, list[str]]] = [
    ("travel-expenses", "CEDAR",
     "Travel expense claims are reviewed by the CEDAR team. Submit train tickets, hotel "
     "receipts and taxi fares within 21 days of returning from a business trip.",
     ["get reimbursed for a hotel stay on a business trip", "claim back a train ticket",
      "submit receipts from a work trip", "file a travel expense claim",
      "get the taxi fares from a client visit abroad paid back"]),
    ("laptop-purchases", "FJORD",
     "Laptops, monitors and other computer hardware are ordered through the FJORD team. "
     "Any device above 1,800 crowns needs their written approval before purchase.",
     ["order a new laptop", "buy a second monitor for my desk",
      "get approval for an expensive computer", "replace my broken notebook computer",
      "order a docking station and a keyboard for my workstation"]),
    ("parental-leave", "ASTER",
     "Parental leave is arranged with the ASTER team. Corvane gives 26 weeks of paid "
     "leave to every new parent, to be requested at least eight weeks ahead.",
     ["request leave after the birth of my child", "plan time off as a new parent",
      "ask about paid leave for adopting a baby", "arrange parental leave",
      "take time off to care for our newborn next spring"]),
    ("lens-defects", "DELTA",
     "Defective lenses found on the grinding line are logged with the DELTA team, who "
     "decide whether a batch is scrapped or reground.",
     ["report a scratched lens batch", "log a defect found during grinding",
      "decide whether faulty glass should be scrapped", "flag a lens with a coating flaw",
      "report cracked lenses coming off the grinding machine"]),
    ("visitor-badges", "EMBER",
     "Visitor badges for guests at the Corvane factory are issued by the EMBER team at "
     "the north gate; guests must be announced one working day before they arrive.",
     ["get a badge for a guest visiting the factory", "announce a visitor",
      "bring a supplier onto the site for a day", "register an external guest",
      "arrange entry passes for customers touring the factory"]),
    ("password-resets", "FJORD",
     "Forgotten passwords and locked staff accounts are reset by the FJORD team. "
     "Resets are only done by phone, never by email.",
     ["unlock my staff account", "reset a forgotten password",
      "get back into my locked computer login", "recover access after too many wrong passwords",
      "sign in again after forgetting my password over the holidays"]),
    ("overtime-pay", "CEDAR",
     "Overtime is paid at one and a half times the hourly rate and is approved by the "
     "CEDAR team; hours must be entered in the timesheet the same week.",
     ["get paid for extra hours I worked", "have my overtime approved",
      "ask why my extra shift pay is missing", "claim pay for working late",
      "be paid for staying three hours past the end of my shift"]),
    ("safety-glasses", "DELTA",
     "Safety glasses and protective gloves for the workshop are handed out by the DELTA "
     "team; replacements are free when the old pair is returned.",
     ["get new protective goggles for the workshop", "replace my worn safety gloves",
      "pick up eye protection before grinding", "ask for protective equipment",
      "hand in my old safety glasses for a new pair"]),
    ("sick-leave", "ASTER",
     "Sick leave longer than three days needs a doctor's note, sent to the ASTER team "
     "by the fourth day of absence.",
     ["send in a doctor's note", "report that I am ill for a week",
      "tell someone I will be off sick for several days", "hand in a medical certificate",
      "stay home with the flu for the rest of the week"]),
    ("customer-returns", "BIRCH",
     "Customers returning binoculars or camera lenses are handled by the BIRCH team, "
     "who issue the return label and the refund within ten days.",
     ["help a customer send back a pair of binoculars", "issue a refund for a returned lens",
      "arrange a return label for a buyer", "process a product return",
      "take back a camera lens that a buyer no longer wants"]),
    ("press-enquiries", "EMBER",
     "Journalists and press enquiries are answered only by the EMBER team; no other "
     "employee may speak to reporters on behalf of Corvane.",
     ["answer a reporter's questions", "respond to a newspaper asking about us",
      "talk to the media about a new product", "handle a press request",
      "reply to a journalist who emailed me about the company"]),
    ("bulk-orders", "BIRCH",
     "Orders from retailers for more than 200 units are quoted by the BIRCH team, who "
     "set the volume discount.",
     ["get a quote for a large shop order", "offer a discount on a wholesale purchase",
      "price an order of five hundred lenses for a retailer", "handle a bulk order",
      "set the price for a chain of opticians ordering a thousand units"]),
    ("relocation", "ASTER",
     "Staff moving to the Corvane site in Tromsdal can ask the ASTER team for a "
     "relocation allowance of up to 30,000 crowns.",
     ["get help moving to the Tromsdal site", "claim a relocation allowance",
      "ask for money to move house for the job", "arrange support for relocating",
      "cover my moving costs when I transfer to the Tromsdal plant"]),
    ("software-licences", "FJORD",
     "Licences for design software such as optical simulation tools are bought by the "
     "FJORD team and renewed every January.",
     ["get a licence for the optics simulation program", "renew design software",
      "install a paid design tool", "request a seat on the lens simulation software",
      "keep using the optical design program after its licence expires"]),
    ("calibration", "DELTA",
     "Measuring instruments in the lab are calibrated every six months by the DELTA "
     "team; an instrument past its date must not be used.",
     ["book calibration for a lab instrument", "check a measuring device is still valid",
      "get the interferometer recalibrated", "ask about an overdue instrument check",
      "have the lab's measuring gauges checked for accuracy"]),
    ("warranty-claims", "BIRCH",
     "Warranty claims for lenses bought less than five years ago are assessed by the "
     "BIRCH team, who may repair or replace the product.",
     ["assess a customer's warranty claim", "repair a lens still under guarantee",
      "replace a faulty product bought three years ago", "handle a guarantee request",
      "handle a claim for a lens that failed within its warranty period"]),
    ("office-keys", "EMBER",
     "Office keys and door access cards are issued by the EMBER team; a lost card must "
     "be reported the same day so it can be blocked.",
     ["get a new door access card", "report a lost office key",
      "block a missing entry card", "receive keys to my new office",
      "replace the access card I lost on the bus this morning"]),
    ("training-budget", "CEDAR",
     "Each employee has a yearly training budget of 12,000 crowns; courses and "
     "conference fees are paid by the CEDAR team after approval by a manager.",
     ["pay for a conference ticket", "use my yearly course budget",
      "get a training course paid for", "ask about money for professional education",
      "have my registration fee for an optics conference paid"]),
    ("chemical-waste", "DELTA",
     "Used polishing compounds and other chemical waste are collected by the DELTA team "
     "every Thursday; never pour them into a sink.",
     ["dispose of used polishing compound", "get rid of chemical leftovers from the lab",
      "arrange collection of hazardous waste", "ask what to do with old solvents",
      "have the drums of used polishing chemicals picked up"]),
    ("customer-complaints", "BIRCH",
     "Written complaints from customers about service or delivery are answered by the "
     "BIRCH team within five working days.",
     ["answer an unhappy customer's letter", "respond to a complaint about late delivery",
      "deal with a customer who is angry about service", "handle a written complaint",
      "reply to a customer who wrote in about a rude delivery driver"]),
    ("holiday-requests", "ASTER",
     "Holiday requests are approved by the ASTER team; summer holidays must be booked "
     "before the first of March.",
     ["book my summer vacation", "request days off for a holiday",
      "ask for annual leave in July", "plan my vacation days",
      "take two weeks of holiday in August"]),
    ("phone-contracts", "FJORD",
     "Company mobile phones and their contracts are managed by the FJORD team; a "
     "broken phone is swapped the same day.",
     ["get a company mobile phone", "swap my broken work phone",
      "change the contract on my business phone", "ask for a new smartphone for work",
      "upgrade the data plan on my company mobile"]),
    ("canteen-events", "EMBER",
     "Booking the canteen for a team celebration or an evening event goes through the "
     "EMBER team at least two weeks ahead.",
     ["book the canteen for a party", "reserve the dining hall for an evening event",
      "organise a team celebration on site", "hold a farewell gathering in the canteen",
      "use the canteen for our department's year-end dinner"]),
    ("invoice-payments", "CEDAR",
     "Supplier invoices are paid by the CEDAR team within 30 days; an invoice without a "
     "purchase order number is sent back.",
     ["pay a supplier's bill", "ask why a vendor invoice was returned",
      "get an invoice settled", "check when a supplier will be paid",
      "make sure a glass supplier's invoice is paid on time"]),
]

TEMPLATES = [
    "At Corvane, which team do I contact to {x}?",
    "Which Corvane team is responsible when I need to {x}?",
    "I want to {x}. Which team handles that?",
    "Who at Corvane should I ask to {x}?",
]


def _row(stem: str, team: str, ask: int, question: str) -> dict[str, str]:
    """One question row; its id is the policy's stem and the ask's index."""
    return {"id": f"{stem}-{ask}", "question": question, "team": team,
            "policy": f"{stem}.md"}


def main() -> None:
    """Write policies/*.md and train/dev/test.jsonl next to this script."""
    rng = random.Random(SEED)
    extra_rng = random.Random(EXTRA_SEED)
    out = HERE / "policies"
    out.mkdir(exist_ok=True)
    rows: dict[str, list[dict[str, str]]] = {"train": [], "dev": [], "test": []}
    later_dev: list[dict[str, str]] = []
    for stem, team, text, asks in POLICIES:
        if len(asks) != len(FIRST_SPLITS) + 1:
            raise ValueError(f"{stem}: {len(asks)} asks, expected {len(FIRST_SPLITS) + 1}")
        (out / f"{stem}.md").write_text(
            f"# {stem.replace('-', ' ').title()}\n\n{text}\nQueue: {team}.\n",
            encoding="utf-8")
        order = rng.sample(range(len(FIRST_SPLITS)), len(FIRST_SPLITS))
        for split, i in zip(FIRST_SPLITS, order, strict=True):
            question = TEMPLATES[rng.randrange(len(TEMPLATES))].format(x=asks[i])
            rows[split].append(_row(stem, team, i, question))
        i = len(FIRST_SPLITS)
        question = TEMPLATES[extra_rng.randrange(len(TEMPLATES))].format(x=asks[i])
        later_dev.append(_row(stem, team, i, question))
    for split, items in rows.items():
        rng.shuffle(items)
        if split == "dev":  # after the shuffle, so the main generator's draws stay as they were
            for row in later_dev:
                items.insert(extra_rng.randrange(len(items) + 1), row)
        with (HERE / f"{split}.jsonl").open("w", encoding="utf-8") as fh:
            for row in items:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
