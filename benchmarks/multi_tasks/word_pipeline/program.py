"""The three most frequent words of a text, as a pipeline of three marked functions: words() splits
and normalises, count() tallies, top() ranks. Only count() is wrong: it skips the text's first word."""


def words(text):  # autotrace: param
    """The text's words, lower-cased, with the punctuation around them stripped; empty ones dropped."""
    out = []
    for raw in text.split():
        word = raw.strip(".,;:!?\"'()").lower()
        if word:
            out.append(word)
    return out


def count(tokens):  # autotrace: param
    """How many times each word occurs: {word: occurrences}."""
    counts = {}
    for word in tokens[1:]:
        counts[word] = counts.get(word, 0) + 1
    return counts


def top(counts, k=3):  # autotrace: param
    """The k most frequent words with their counts, most frequent first, ties in alphabetical order."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:k]


def main(text):
    return top(count(words(text)))
