"""An LLM app: the prompt tells the model how to read a short dialogue (BIG-bench implicatures)."""

from bigbench import labelled_items
from openai import OpenAI

PROMPT = "Read the dialogue."  # autotrace: param system prompt given to the model with each dialogue


def ask(prompt, dialogue):
    """The model's raw answer for one dialogue."""
    reply = OpenAI().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": prompt}, {"role": "user", "content": dialogue}],
        temperature=0,
        max_tokens=12,
    )
    return reply.choices[0].message.content or ""


def first_word(answer):
    """The first word of an answer, lower case, without punctuation."""
    words = answer.strip().lower().split()
    return words[0].strip(".,:;!'\"*") if words else ""


def results(dialogues, *answers):
    """Each dialogue paired with the model's one-word answer."""
    return list(zip(dialogues, answers))


def main():
    dialogues = [text for text, _ in labelled_items("implicatures")]
    return results(dialogues, *[first_word(ask(PROMPT, d)) for d in dialogues])
