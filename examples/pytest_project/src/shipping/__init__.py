"""A parcel shop's shipping rules."""
