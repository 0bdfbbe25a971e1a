"""An LLM app: file a news headline under a desk code. The system prompt is the parameter."""

from openai import OpenAI

PROMPT = "You are a helpful assistant. Talk about the headline."  # autotrace: param system prompt of the headline filer


def ask(headline):
    reply = OpenAI().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": PROMPT}, {"role": "user", "content": headline}],
        temperature=0,
        max_tokens=16,
    )
    return reply.choices[0].message.content or ""


def main(headline):
    """The first word of the model's answer, without punctuation."""
    words = ask(headline).strip().split()
    return words[0].strip(".,:;!'\"*`") if words else ""
