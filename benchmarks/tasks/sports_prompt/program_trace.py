"""An LLM app: the prompt tells the model how to judge sports sentences (BIG-bench sports_understanding)."""

from opto.trace import bundle, node

from app_llm import chat
from bigbench import labelled_items

PROMPT = node("Here is a sentence about sports.", name="PROMPT", trainable=True,
              constraint="system prompt given to the model with each sentence")


@bundle()
def ask(prompt, sentence):
    """The model's raw answer for one sentence."""
    return chat(prompt, sentence)


@bundle()
def first_word(answer):
    """The first word of an answer, lower case, without punctuation."""
    words = answer.strip().lower().split()
    return words[0].strip(".,:;!'\"*") if words else ""


@bundle()
def results(sentences, *answers):
    """Each sentence paired with the model's one-word answer."""
    return list(zip(sentences, answers))


def main():
    sentences = [text for text, _ in labelled_items("sports_understanding")]
    return results(sentences, *[first_word(ask(PROMPT, s)) for s in sentences])


def parameters():
    return [PROMPT]
