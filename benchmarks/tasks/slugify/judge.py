"""Score = fraction of titles turned into the right slug; feedback lists the failures."""

import re

from checks import judge_cases


def reference(title):
    return "-".join(re.findall(r"[a-z0-9]+", title.lower()))


def feedback(output):
    return judge_cases(output, reference, "slugify")
