"""A BIG-Bench-Hard program shaped like the one in "Trace is the Next AutoDiff": a prompt template,
``create_prompt`` that fills it with the question, one call of the model, and ``extract_answer`` that reads
the answer out of the reply. All three are parameters.

It is written for OpenAI, as such programs are: an ``OpenAI()`` client configured by the environment alone
and a model name. Under ``autotrace optimize`` with no ``OPENAI_*`` variable set, autotrace points the
client at the run's model (the embedded local one by default), which answers whatever model name it asks for.
"""

from openai import OpenAI

PROMPT_TEMPLATE = """Given the fields `question`, produce the fields `answer`.

---

Follow the following format.

Question: 
Answer: 

---
Question: {}
Answer:"""  # autotrace: param the prompt template the question is put into


def create_prompt(prompt_template, question):  # autotrace: param
    return prompt_template.format(question)


def call_llm(prompt):
    """The model's reply to the prompt (greedy, so that an example's answer depends on the prompt alone)."""
    client = OpenAI()
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "You are a helpful assistant.\n"},
                  {"role": "user", "content": prompt}],
        temperature=0,
        max_tokens=200,
    )
    return reply.choices[0].message.content or ""


def extract_answer(prompt_template, question, response):  # autotrace: param
    answer = response.split("Answer:")[1].strip()
    return answer


def main(question):
    prompt = create_prompt(PROMPT_TEMPLATE, question)
    response = call_llm(prompt)
    return extract_answer(PROMPT_TEMPLATE, question, response)
