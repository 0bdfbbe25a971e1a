"""An LLM app: the prompt tells the model how to judge sports sentences (BIG-bench sports_understanding)."""

from bigbench import labelled_items
from openai import OpenAI

PROMPT = "Here is a sentence about sports."  # autotrace: param system prompt given to the model with each sentence


def ask(prompt, sentence):
    """The model's raw answer for one sentence."""
    reply = OpenAI().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": prompt}, {"role": "user", "content": sentence}],
        temperature=0,
        max_tokens=12,
    )
    return reply.choices[0].message.content or ""


def first_word(answer):
    """The first word of an answer, lower case, without punctuation."""
    words = answer.strip().lower().split()
    return words[0].strip(".,:;!'\"*") if words else ""


def results(sentences, *answers):
    """Each sentence paired with the model's one-word answer."""
    return list(zip(sentences, answers))


def main():
    sentences = [text for text, _ in labelled_items("sports_understanding")]
    return results(sentences, *[first_word(ask(PROMPT, s)) for s in sentences])
