"""Write examples/bank_requests.csv: the project's own small labelled set for the last chapter.

Short requests a bank's customers might send, each labelled with what it is about: ``card``,
``transfer`` or ``loan``. Written from templates by this script (seeded, so the file is the same
on every run), not taken from any dataset; a sentence may mention another topic in passing
("my card works, but the transfer ...") so that a keyword alone does not decide its label.

The file gives its own splits (``split`` column): each template's sentences all go to one split,
so the validation and test sentences are phrasings no training sentence uses. A random split
would put near-copies of one template on both sides and make the test a memory check.

    python tools/make_bank_requests.py            # rewrites examples/bank_requests.csv
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "examples" / "bank_requests.csv"
# per label: templates (of 16) and sentences in each split
SPLIT_TEMPLATES = {"train": 10, "validation": 2, "test": 4}
SPLIT_ROWS = {"train": 105, "validation": 15, "test": 30}
SEED = 0

OPENERS = ["", "Hi, ", "Hello, ", "Good morning, ", "Quick question: ", "Please help, ", "Sorry to bother you, "]
CLOSERS = ["", "", " Thanks.", " Thank you!", " Can you help?", " What should I do?", " Please advise."]
WHEN = ["yesterday", "this morning", "last night", "on Friday", "two days ago", "an hour ago", "last week"]
WHERE = ["at the supermarket", "online", "at a petrol station", "abroad", "in a restaurant", "at the airport"]
AMOUNT = ["50 euros", "120 euros", "300 pounds", "1,000 dollars", "75 euros", "2,500 euros", "40 dollars"]
WHO = ["my landlord", "my sister", "a supplier", "my own savings account", "a friend abroad", "the tax office"]

TEMPLATES = {
    "card": [
        "my card was declined {where} {when}.",
        "I lost my debit card {when} and need to block it.",
        "someone used my card {where} without my permission.",
        "my new card has not arrived yet, it was ordered {when}.",
        "I forgot the PIN of my credit card.",
        "contactless payments stopped working on my card {when}.",
        "the chip on my card seems damaged, the terminal {where} could not read it.",
        "can I raise the daily spending limit on my card?",
        "my card was swallowed by a cash machine {when}.",
        "I see a card payment of {amount} that I do not recognise.",
        "how do I freeze my card while I look for it?",
        "my credit card expires next month, will a new one be sent?",
        "the transfer app works fine, but my card keeps getting rejected {where}.",
        "I want to add my card to my phone wallet but it fails.",
        "I was charged twice on my card for one purchase of {amount} {where}.",
        "my card was stolen {where} {when}.",
    ],
    "transfer": [
        "I sent {amount} to {who} {when} and it has not arrived.",
        "how long does a transfer abroad usually take?",
        "my transfer of {amount} is still pending since {when}.",
        "I entered the wrong IBAN when sending {amount} to {who}.",
        "can I cancel a transfer I made {when}?",
        "what is the fee for sending {amount} to {who}?",
        "I need to set up a standing order to {who}.",
        "the money I sent to {who} came back to my account.",
        "my card is fine, but the transfer to {who} failed {when}.",
        "is there a limit on how much I can send to {who} in one day?",
        "I expected a payment of {amount} from {who} but nothing has come in.",
        "a transfer to {who} was blocked for a security check.",
        "how do I add {who} as a new payee?",
        "I paid my loan instalment by transfer {when} but it shows as not received.",
        "the exchange rate on my transfer of {amount} looks wrong.",
        "please confirm whether my transfer to {who} went through.",
    ],
    "loan": [
        "I would like to apply for a personal loan of {amount}.",
        "what interest rate would I get on a mortgage?",
        "can I repay my loan early without a penalty?",
        "my loan application from {when} has had no answer.",
        "I will miss my next loan repayment, what are my options?",
        "how much could I borrow to buy a car?",
        "I want to change the date my mortgage payment is taken.",
        "why did the rate on my loan go up?",
        "I lost my job and cannot keep up with the loan instalments.",
        "could I borrow an extra {amount} on my existing loan?",
        "what documents do I need for a mortgage application?",
        "my card works, I just want to know the balance left on my loan.",
        "is it possible to extend the term of my loan to lower the payments?",
        "I was refused a loan {when}, can you tell me why?",
        "do you offer loans for home improvements of about {amount}?",
        "I want to move my mortgage to your bank.",
    ],
}


def requests(templates: list[str], count: int, rng: random.Random) -> list[str]:
    """``count`` distinct requests made from ``templates``."""
    made: set[str] = set()
    while len(made) < count:
        body = rng.choice(templates).format(where=rng.choice(WHERE), when=rng.choice(WHEN),
                                                   amount=rng.choice(AMOUNT), who=rng.choice(WHO))
        opener = rng.choice(OPENERS)
        sentence = opener + (body if opener else body[0].upper() + body[1:]) + rng.choice(CLOSERS)
        made.add(sentence)
    return sorted(made)


def main() -> None:
    rng = random.Random(SEED)
    rows = []
    for label, templates in TEMPLATES.items():
        shuffled = rng.sample(templates, len(templates))
        start = 0
        for split, count in SPLIT_TEMPLATES.items():
            chosen, start = shuffled[start:start + count], start + count
            rows += [(sentence, label, split) for sentence in requests(chosen, SPLIT_ROWS[split], rng)]
    rng.shuffle(rows)
    OUT.parent.mkdir(exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label", "split"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT.relative_to(OUT.parent.parent)}")


if __name__ == "__main__":
    main()
