"""Fresh prompt tasks (classification, extraction into an exact form, a format conversion), each an app
written for OpenAI with a vague system prompt marked as its parameter, a judge with a few labelled
inputs, and hidden cases (``hidden.py``) that no optimizer sees: the measure of a prompt optimizer
(``python -m benchmarks.prompt_proposers``)."""
