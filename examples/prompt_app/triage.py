"""A small LLM app: route a customer message to a team. The system prompt is the parameter.

It is written for OpenAI, as such apps are: an ``OpenAI()`` client configured by the environment alone
(``OPENAI_BASE_URL``, ``OPENAI_API_KEY``) and a model name. Under ``autotrace optimize`` with neither
variable set, autotrace points them at the run's model (the embedded local one by default), which answers
whatever model name the app asks for.
"""

from openai import OpenAI

PROMPT = """You read messages from our customers.
Tell us what the message is about."""  # autotrace: param system prompt of the message classifier


def ask(text):
    client = OpenAI()
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
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
