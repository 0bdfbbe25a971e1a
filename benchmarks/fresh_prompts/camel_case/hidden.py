"""Field descriptions no optimizer sees, with their camelCase identifiers."""

CASES = {
    "shipping address line": "shippingAddressLine",
    "number of attempts": "numberOfAttempts",
    "first name": "firstName",
    "has unread messages": "hasUnreadMessages",
    "cache expiry seconds": "cacheExpirySeconds",
    "primary phone number": "primaryPhoneNumber",
    "created at date": "createdAtDate",
    "minimum password length": "minimumPasswordLength",
}
