"""One-off studies: each script answered one past question; its conclusion is a record in docs/decisions/."""
