"""The measured search: program runs, not LLM calls, that move a program's parameters to a better score.

It is core, not CLI: it needs only the typed evaluation (:mod:`autotrace.evaluation`), the markers'
bounds (:mod:`autotrace.domain`) and the parameters (:mod:`autotrace.params`), and is handed a
function that evaluates a batch of values, which the optimize loop gives it.

- :mod:`.space`: which parameters may move and the values they may take (bounds, ints, choices);
- :mod:`.probe`: one finite difference per number, the optimizer's hint and the search's first slopes;
- :mod:`.stages`: the search itself, stage by stage (categories, one number at a time, planes);
- :mod:`.refine`: scipy's bounded Nelder–Mead, for interacting numbers the planes did not settle.
"""
