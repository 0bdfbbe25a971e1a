"""A small LLM app: route a customer message to a team. The system prompt is the parameter.

It talks to any OpenAI-compatible server through the ``openai`` client, configured the usual way:
OPENAI_BASE_URL and OPENAI_API_KEY (for the local model: ``autotrace model serve``), and
AUTOTRACE_MODEL for the model name.
"""

import os

from openai import OpenAI

PROMPT = """You read messages from our customers.
Tell us what the message is about."""  # autotrace: param system prompt of the message classifier


def ask(text):
    client = OpenAI(api_key=os.environ.get("OPENAI_API_KEY") or "not-needed")
    reply = client.chat.completions.create(
        model=os.environ.get("AUTOTRACE_MODEL") or "gpt-4o-mini",
        messages=[{"role": "system", "content": PROMPT}, {"role": "user", "content": text}],
        temperature=0,
        max_tokens=20,
    )
    return reply.choices[0].message.content or ""


def classify(text):
    """The first word of the model's answer, in lower case and without punctuation."""
    words = ask(text).strip().lower().split()
    return words[0].strip(".,:;!'\"*") if words else ""


def main(text):
    return classify(text)


if __name__ == "__main__":
    print(main("I was charged twice for my subscription this month."))
