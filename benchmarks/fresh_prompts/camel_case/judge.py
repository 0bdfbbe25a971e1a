"""Field descriptions in plain words; the answer must be the camelCase identifier, exactly."""

LABELLED = {
    "maximum retry count": "maximumRetryCount",
    "user email address": "userEmailAddress",
    "last login time": "lastLoginTime",
    "total order price": "totalOrderPrice",
    "is account locked": "isAccountLocked",
    "default page size": "defaultPageSize",
}


def examples():
    return list(LABELLED)


def feedback(output, words):
    expected = LABELLED[words]
    if output == expected:
        return 1.0, "correct"
    return 0.0, f"answered {output!r}, expected {expected!r}"
