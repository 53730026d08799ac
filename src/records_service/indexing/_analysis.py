"""What both engines agree on about words: the stop words.

Prose fields are lowercased, split into words (runs of letters and digits,
joined by single dots, as in ``e.g`` or ``example.org``), accent-folded,
stripped of one-letter words and these common English words, and stemmed.
The list is the one Whoosh 2.7 used (``whoosh.analysis.STOP_WORDS``), kept
here so both engines read it from one place.
"""

from __future__ import annotations

STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "for", "from", "have",
        "if", "in", "is", "it", "may", "not", "of", "on", "or", "tbd", "that", "the",
        "this", "to", "us", "we", "when", "will", "with", "yet", "you", "your",
    }
)  # fmt: skip
# Words shorter than this are not indexed (Whoosh's StopFilter minsize).
MIN_WORD_LENGTH = 2
