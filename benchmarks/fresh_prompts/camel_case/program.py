"""An LLM app: turn a described field into a camelCase identifier. The system prompt is the parameter."""

from openai import OpenAI

PROMPT = "You are a helpful assistant. Help with the user's words."  # autotrace: param system prompt of the naming helper


def ask(words):
    reply = OpenAI().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": PROMPT}, {"role": "user", "content": words}],
        temperature=0,
        max_tokens=24,
    )
    return reply.choices[0].message.content or ""


def main(words):
    """The first word of the model's answer, without quotes or punctuation around it."""
    parts = ask(words).strip().split()
    return parts[0].strip(".,:;!'\"*`") if parts else ""
