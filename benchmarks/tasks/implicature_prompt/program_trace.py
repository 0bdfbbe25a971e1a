"""An LLM app: the prompt tells the model how to read a short dialogue (BIG-bench implicatures)."""

from opto.trace import bundle, node

from app_llm import chat
from bigbench import labelled_items

PROMPT = node("Read the dialogue.", name="PROMPT", trainable=True,
              constraint="system prompt given to the model with each dialogue")


@bundle()
def ask(prompt, dialogue):
    """The model's raw answer for one dialogue."""
    return chat(prompt, dialogue)


@bundle()
def first_word(answer):
    """The first word of an answer, lower case, without punctuation."""
    words = answer.strip().lower().split()
    return words[0].strip(".,:;!'\"*") if words else ""


@bundle()
def results(dialogues, *answers):
    """Each dialogue paired with the model's one-word answer."""
    return list(zip(dialogues, answers))


def main():
    dialogues = [text for text, _ in labelled_items("implicatures")]
    return results(dialogues, *[first_word(ask(PROMPT, d)) for d in dialogues])


def parameters():
    return [PROMPT]
