"""An LLM app: read the date out of a sentence. The system prompt is the parameter."""

from openai import OpenAI

PROMPT = "You are a helpful assistant."  # autotrace: param system prompt of the date reader


def ask(sentence):
    reply = OpenAI().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": PROMPT}, {"role": "user", "content": sentence}],
        temperature=0,
        max_tokens=24,
    )
    return reply.choices[0].message.content or ""


def main(sentence):
    """The first line of the model's answer, stripped."""
    lines = ask(sentence).strip().splitlines()
    return lines[0].strip().strip("`'\"") if lines else ""
