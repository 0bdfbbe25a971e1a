"""Headlines no optimizer sees, with their desk codes."""

CASES = {
    "Tennis champion retires after twenty seasons on tour": "SPT",
    "Goalkeeper suspended for three matches after red card": "SPT",
    "Startup releases an open-source tool for database backups": "TEC",
    "Satellite internet service reaches remote mountain villages": "TEC",
    "Senator announces a run for governor next spring": "POL",
    "Coalition talks collapse as two parties walk out": "POL",
    "Doctors warn of a rise in measles cases among children": "HLT",
    "Study links short sleep to higher risk of heart disease": "HLT",
}
