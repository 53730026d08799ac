"""A deterministic synthetic corpus of contract records for the search benchmark.

Each record has one version of 300 to 3,000 words of prose: sentences drawn
from a seeded vocabulary whose word frequencies follow Zipf's law (a few
hundred real English and commissioning words at the head, tens of thousands
of made-up words in the tail, as real text has names, places and jargon),
with domain phrases ("value for money", "domestic abuse helpline") sprinkled
in. Metadata is spread over thousands of contracts, seventeen record types,
fifteen years of dates, tags, classifications and capturers. The same seed
and size always give the same corpus, and the queries are drawn from it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from records_service.indexing import IndexDocument

SEED = 20260615
MIN_WORDS, MAX_WORDS = 300, 3000


def _words(text: str) -> list[str]:
    return text.split()


COMMON = _words(
    """the of and to in a is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when
had will more if no out so said what up its about than into them can only other new some
could time these two may then do first any my now such like our over man me even most made
after also did many before must through back years where much your way well down should
because each just those people how too little state good very make world still own see men
work long get here between both life being under never day same another know while last might
us great old year off come since against go came right used take three"""
)

DOMAIN = _words(
    """contract provider service commissioning commissioner police crime victims victim
helpline referral referrals funding grant tender evaluation specification monitoring quarterly
outcome outcomes performance indicator indicators budget invoice payment award panel decision
board minutes report review assessment needs safeguarding domestic abuse sexual violence
advisers independent restorative justice pathway partnership community safety prevention
offender offenders reoffending custody probation youth diversion mental health substance misuse
housing accommodation refuge outreach caseworker casework caseload capacity demand waiting
variation extension termination closure procurement framework compliance risk register
milestone deliverable deliverables kpi target targets baseline evidence evaluation survey
satisfaction complaint complaints escalation governance scrutiny audit assurance finance
spend underspend overspend allocation match funded jointly county borough district council
neighbourhood policing officers staff volunteers training workshop sessions clients families
children young people older adults disability interpreter translation accessibility
"""
)

PHRASES = [
    "value for money",
    "domestic abuse helpline",
    "independent sexual violence advisers",
    "key performance indicators",
    "restorative justice pathway",
    "needs assessment",
    "quarterly monitoring return",
    "service level agreement",
    "police and crime plan",
    "victims code of practice",
    "early intervention",
    "serious violence duty",
]

RECORD_TYPES = [
    ("correspondence", 20),
    ("monitoring_return", 16),
    ("invoice", 12),
    ("minutes", 10),
    ("contract_review", 6),
    ("decision_record", 6),
    ("specification", 5),
    ("needs_assessment", 4),
    ("tender_submission", 4),
    ("tender_evaluation", 3),
    ("contract", 3),
    ("grant_agreement", 3),
    ("contract_variation", 3),
    ("invitation_to_tender", 2),
    ("direct_award_justification", 1),
    ("closure_report", 1),
    ("publication_record", 1),
]
TAGS = _words(
    """victims helpline funding urgent board finance safeguarding annual quarterly
audit renewal youth housing mental-health partnership prevention court outreach
evaluation"""
)
PROVIDERS = [
    "Safe Haven Trust",
    "Northern Victim Support",
    "Bridge Housing Association",
    "Second Chance Youth Trust",
    "Riverside Mediation",
    "Harbour Refuge",
    "Open Door Counselling",
    "Pathways Partnership",
    "County Substance Misuse Service",
    "Beacon Advocacy",
]
USERS = [f"user{n:02d}" for n in range(20)]
SYLLABLES = _words(
    """ba be bi bo bu ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu
ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu dar mer tin gol sen"""
)
TAIL_WORDS = 40_000
ZIPF_EXPONENT = 1.07
PHRASE_CHANCE = 0.012


@dataclass(frozen=True)
class Contract:
    """A contract the synthetic records are filed under."""

    reference: str
    title: str
    provider: str


class Vocabulary:
    """Words ranked by frequency, with Zipf weights for sampling."""

    def __init__(self, rng: random.Random) -> None:
        head = list(dict.fromkeys(COMMON + DOMAIN))
        tail = _made_up_words(rng, TAIL_WORDS, set(head))
        self.words = head + tail
        weights = [1.0 / (rank**ZIPF_EXPONENT) for rank in range(1, len(self.words) + 1)]
        self.cumulative = list(itertools.accumulate(weights))

    def sample(self, rng: random.Random, count: int) -> list[str]:
        """``count`` words drawn by frequency."""
        return rng.choices(self.words, cum_weights=self.cumulative, k=count)


def _made_up_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    words: list[str] = []
    seen = set(taken)
    while len(words) < count:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def make_contracts(count: int, seed: int = SEED) -> list[Contract]:
    """``count`` contracts with references like ``OPCC-2019-0042``."""
    rng = random.Random(seed + 1)
    return [
        Contract(
            reference=f"OPCC-{2012 + n % 15}-{n:04d}",
            title=f"Commissioned service {n}",
            provider=rng.choice(PROVIDERS),
        )
        for n in range(count)
    ]


def _prose(rng: random.Random, vocabulary: Vocabulary, words: int) -> str:
    drawn = vocabulary.sample(rng, words)
    sentences: list[str] = []
    at = 0
    while at < len(drawn):
        length = rng.randint(6, 24)
        sentence = drawn[at : at + length]
        at += length
        if rng.random() < PHRASE_CHANCE:
            sentence.insert(rng.randrange(len(sentence) + 1), rng.choice(PHRASES))
        sentences.append(" ".join(sentence).capitalize() + ".")
    return " ".join(sentences)


def make_documents(
    count: int,
    contracts: list[Contract],
    seed: int = SEED,
    *,
    min_words: int = MIN_WORDS,
    max_words: int = MAX_WORDS,
) -> Iterator[IndexDocument]:
    """``count`` current, single-version record documents, the same for the same seed.

    Texts run from ``min_words`` to ``max_words`` words, most of them nearer the
    lower end (40 % of the way up on average).
    """
    rng = random.Random(seed)
    vocabulary = Vocabulary(random.Random(seed + 2))
    types = [name for name, _ in RECORD_TYPES]
    type_weights = [weight for _, weight in RECORD_TYPES]
    start = date(2012, 1, 1)
    for number in range(count):
        contract = contracts[int(rng.paretovariate(1.2) * 7) % len(contracts)]
        record_date = start + timedelta(days=rng.randrange(15 * 365))
        words = int(min_words + (max_words - min_words) * rng.random() ** 1.5)
        yield IndexDocument(
            record_id=f"{number:032x}",
            version=1,
            is_current=True,
            title=" ".join(vocabulary.sample(rng, rng.randint(3, 8))).capitalize(),
            text=_prose(rng, vocabulary, words),
            record_type=rng.choices(types, weights=type_weights)[0],
            contract_ref=contract.reference,
            provider=contract.provider,
            tags=tuple(sorted(set(rng.sample(TAGS, rng.randint(0, 3))))),
            record_date=record_date,
            captured_at=datetime.combine(record_date, datetime.min.time(), UTC)
            + timedelta(days=rng.randint(0, 30), seconds=rng.randrange(86400)),
            classification="OFFICIAL-SENSITIVE" if rng.random() < 0.08 else "OFFICIAL",
            originator=rng.choice(["Commissioning team", "Finance", "Provider", None]),
            captured_by=rng.choice(USERS),
        )


@dataclass(frozen=True)
class QueryCase:
    """One benchmark query: its kind, the query text, and an optional contract filter."""

    kind: str
    text: str
    contract: str | None = None
    sort: str = "relevance"


def make_queries(contracts: list[Contract], per_kind: int, seed: int = SEED) -> list[QueryCase]:
    """The same number of queries of each kind, drawn deterministically.

    Terms are half commissioning words (each in roughly a third to a half of
    the records) and half rarer words (ranks 500 to 5,000: a few per cent).
    """
    rng = random.Random(seed + 3)
    words = Vocabulary(random.Random(seed + 2)).words
    common, rare = DOMAIN, words[500:5000]
    # The contracts the corpus uses most, as a user looking at a busy contract would.
    busy = [contracts[int(rng.paretovariate(1.2) * 7) % len(contracts)] for _ in range(per_kind)]
    cases: list[QueryCase] = []
    for n in range(per_kind):
        pool = common if n % 2 == 0 else rare
        first, second = rng.choice(common), rng.choice(pool)
        cases += [
            QueryCase("single term", rng.choice(pool)),
            QueryCase("two-term AND", f"{first} {second}"),
            QueryCase("phrase", f'"{rng.choice(PHRASES)}"'),
            QueryCase("contract filter", rng.choice(common), contract=busy[n].reference),
            QueryCase("sort by date", rng.choice(pool), sort="date"),
        ]
    return cases
